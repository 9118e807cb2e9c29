"""Serve's errors, with Ray Serve's names (`ray.serve.exceptions`). Each message says what
happened and what to change."""

from __future__ import annotations

from ..exceptions import TaskCancelledError

__all__ = [
    "BackPressureError",
    "DeploymentUnavailableError",
    "RayServeException",
    "RequestCancelledError",
]


class RayServeException(Exception):
    """Base of Serve's own errors (bad use of the API, an application that failed to deploy)."""


class BackPressureError(RayServeException):
    """A request was refused because the deployment's queue is full (HTTP 503)."""

    def __init__(self, num_queued_requests: int = 0, max_queued_requests: int = 0) -> None:
        super().__init__(num_queued_requests, max_queued_requests)
        self._message = (
            f"Request dropped due to backpressure (num_queued_requests={num_queued_requests}, "
            f"max_queued_requests={max_queued_requests}). Raise the deployment's "
            "max_queued_requests, add replicas, or retry later."
        )

    def __str__(self) -> str:
        return self._message

    @property
    def message(self) -> str:
        return self._message


class DeploymentUnavailableError(RayServeException):
    """The deployment a handle points to does not exist (any more)."""


class RequestCancelledError(RayServeException, TaskCancelledError):
    """The request was cancelled (`response.cancel()`) before it finished."""

    def __init__(self, request_id: str | None = None) -> None:
        TaskCancelledError.__init__(self, request_id)
        self._request_id = request_id

    def __str__(self) -> str:
        return f"Request {self._request_id} was cancelled."
