"""serve.start/run/status/delete/shutdown and the handle getters, as in Ray Serve.

`serve.run(app)` walks the application's bound deployments (arguments that are Applications,
also inside lists, tuples and dicts), replaces each with a DeploymentHandle, pickles every
deployment's code and arguments, hands them to the controller and waits until the application
is RUNNING (or raises with why it failed).
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import time
import warnings
from typing import Any

import cloudpickle

import rayground

from . import process_state
from . import status_board as status_hook
from ._names import CONTROLLER_NAME, DEFAULT_APP_NAME, SERVE_NAMESPACE
from .config import HTTPOptions
from .controller import ServeController
from .deployment import Application, Deployment
from .exceptions import RayServeException
from .handle import DeploymentHandle
from .schema import ServeStatus, status_from_controller

__all__ = [
    "delete",
    "get_app_handle",
    "get_deployment_handle",
    "run",
    "shutdown",
    "start",
    "status",
]

_DEPLOY_TIMEOUT_S = 600.0


def start(
    proxy_location: Any = None,
    http_options: dict[str, Any] | HTTPOptions | None = None,
    grpc_options: Any = None,
    logging_config: Any = None,
    **kwargs: Any,
) -> None:
    """Start Serve on the cluster (the controller and the HTTP proxy on
    http_options' host:port, 127.0.0.1:8000 by default). A no-op if it is already running."""
    if kwargs:
        raise TypeError(f"serve.start() got unexpected keyword argument(s) {sorted(kwargs)}.")
    if grpc_options is not None:
        raise NotImplementedError("rayground.serve has no gRPC proxy; leave grpc_options out.")
    options = HTTPOptions.from_user(http_options)
    state = process_state.current()
    controller = state.controller(required=False)
    if controller is None:
        controller = _create_controller()
        state.set_controller(controller)
    elif proxy_location == "Disabled":
        return
    if proxy_location == "Disabled":
        return
    running = rayground.get(controller.start_proxy.remote(options))
    if (
        not running["started"]
        and http_options is not None
        and ((running["host"], running["port"]) != (options.host, options.port))
    ):
        warnings.warn(
            f"Serve is already running with its HTTP proxy on {running['host']}:"
            f"{running['port']}; the new http_options ({options.host}:{options.port}) are "
            "ignored. Call serve.shutdown() first to change them.",
            stacklevel=2,
        )


def _create_controller() -> Any:
    actor_class = rayground.remote(ServeController)
    try:
        return actor_class.options(
            name=CONTROLLER_NAME,
            namespace=SERVE_NAMESPACE,
            lifetime="detached",
            num_cpus=0,
            max_concurrency=100_000,
            get_if_exists=True,
        ).remote()
    except Exception as exc:
        raise RayServeException(f"Could not start the Serve controller: {exc}") from exc


def run(
    target: Application,
    blocking: bool = False,
    name: str = DEFAULT_APP_NAME,
    route_prefix: str | None = "/",
    logging_config: Any = None,
    _local_testing_mode: bool = False,
    **kwargs: Any,
) -> DeploymentHandle:
    """Deploy an application (a bound deployment) and return a handle to its ingress."""
    host, port = kwargs.pop("host", None), kwargs.pop("port", None)
    if kwargs:
        raise TypeError(f"serve.run() got unexpected keyword argument(s) {sorted(kwargs)}.")
    if isinstance(target, Deployment):
        raise TypeError(
            f"serve.run() expects an application, got the deployment {target.name!r}. Call "
            f"{target.name}.bind(...) and pass what it returns."
        )
    if not isinstance(target, Application):
        raise TypeError(
            "serve.run() expects an application made with Deployment.bind(), got "
            f"{type(target).__name__}."
        )
    if not isinstance(name, str) or not name:
        raise ValueError(f"The application name must be a non-empty str, got {name!r}.")
    _check_route_prefix(route_prefix)
    http_options = None
    if host is not None or port is not None:
        http_options = {
            "host": host if host is not None else HTTPOptions().host,
            "port": port if port is not None else HTTPOptions().port,
        }
        warnings.warn(
            "serve.run(app, host=..., port=...) is the old form (removed from Ray Serve). Use "
            f"serve.start(http_options={http_options!r}) and then serve.run(app).",
            UserWarning,
            stacklevel=2,
        )
    start(http_options=http_options)
    ingress, specs = _build(target, name)
    controller = process_state.current().controller()
    rayground.get(controller.deploy_application.remote(name, route_prefix, ingress, specs))
    result = _wait_running(controller, name)
    if result["status"] == "DEPLOY_FAILED":
        raise RuntimeError(f"Deploying application {name} failed: {result['message']}")
    if result["status"] != "RUNNING":
        raise RuntimeError(
            f"Application {name} did not become RUNNING ({result['status']}: "
            f"{result['message']}). Check serve.status() for the deployment that is stuck."
        )
    handle = DeploymentHandle(ingress, name)
    if blocking:
        try:
            while True:
                time.sleep(1.0)
        except KeyboardInterrupt:
            pass
    return handle


def _wait_running(controller: Any, name: str) -> dict[str, Any]:
    """Wait until the application runs or fails; say once why it is slow, if it is."""
    deadline = time.monotonic() + _DEPLOY_TIMEOUT_S
    warned = set()
    while True:
        result = rayground.get(controller.wait_for_application.remote(name, 5.0), timeout=60)
        if result["status"] in ("RUNNING", "DEPLOY_FAILED") or time.monotonic() > deadline:
            return result
        raw = rayground.get(controller.get_status.remote())
        for dep_name, dep in raw["applications"].get(name, {}).get("deployments", {}).items():
            if dep["message"] and dep_name not in warned:
                warned.add(dep_name)
                warnings.warn(
                    f"Deployment {dep_name!r} of application {name!r}: {dep['message']}",
                    stacklevel=3,
                )


def _check_route_prefix(route_prefix: Any) -> None:
    if route_prefix is None:
        return
    if not isinstance(route_prefix, str) or not route_prefix.startswith("/"):
        raise ValueError(f"route_prefix must start with '/', got {route_prefix!r}.")
    if route_prefix != "/" and route_prefix.endswith("/"):
        raise ValueError(f"route_prefix must not end with '/', got {route_prefix!r}.")
    if "{" in route_prefix or "}" in route_prefix:
        raise ValueError(f"route_prefix may not contain wildcards, got {route_prefix!r}.")


def _build(app: Application, app_name: str) -> tuple[str, list[dict]]:
    """The ingress deployment's name and every deployment's spec for the controller."""
    names: dict[int, str] = {}
    specs: list[dict] = []
    used: set[str] = set()

    def visit(node: Application) -> str:
        if id(node) in names:
            return names[id(node)]
        deployment = node._deployment
        name = deployment.name
        suffix = 1
        while name in used:  # two different deployments with one name: Ray adds _1, _2, ...
            name = f"{deployment.name}_{suffix}"
            suffix += 1
        used.add(name)
        names[id(node)] = name
        args = replace(node._args)
        kwargs = replace(node._kwargs)
        target = deployment.func_or_class
        try:
            blob = cloudpickle.dumps((target, args, kwargs))
        except Exception as exc:
            raise TypeError(
                f"Deployment {name!r} or its bind() arguments cannot be pickled to send to its "
                f"replicas: {exc}. Keep locks, files and sockets out of them; create them in "
                "the constructor."
            ) from None
        version = deployment.version or hashlib.sha1(blob).hexdigest()[:16]
        specs.append(
            {
                "name": name,
                "blob": blob,
                "code_version": version,
                "config": deployment._config,
                "is_class": inspect.isclass(target),
            }
        )
        return name

    def replace(value: Any) -> Any:
        if isinstance(value, Application):
            return DeploymentHandle(visit(value), app_name)
        if isinstance(value, list):
            return [replace(v) for v in value]
        if isinstance(value, tuple):
            return tuple(replace(v) for v in value)
        if isinstance(value, dict):
            return {k: replace(v) for k, v in value.items()}
        return value

    ingress = visit(app)
    return ingress, specs


def status() -> ServeStatus:
    """Applications, their deployments and replicas' states (an empty status without Serve)."""
    state = process_state.current()
    controller = state.controller(required=False)
    if controller is None:
        return ServeStatus()
    raw = rayground.get(controller.get_status.remote())
    return status_from_controller(raw, rayground.get_runtime_context().get_node_id())


def delete(name: str, _blocking: bool = True) -> None:
    """Delete an application: its replicas stop (gracefully) and its route goes away."""
    controller = process_state.current().controller(required=False)
    if controller is None:
        return
    ref = controller.delete_applications.remote([name])
    if _blocking:
        rayground.get(ref)


def shutdown() -> None:
    """Delete every application and stop Serve (controller and HTTP proxy) on this cluster.
    Nothing is left listening when it returns."""
    if not rayground.is_initialized():
        return
    process_state.forget()  # look the controller up afresh: another process may have stopped it
    controller = process_state.current().controller(required=False)
    if controller is not None:
        try:
            rayground.get(controller.shutdown.remote(), timeout=120)
        except rayground.exceptions.RayActorError:
            pass  # stopped meanwhile (`rayground serve shutdown` from another process)
        finally:
            rayground.kill(controller)
            # A call sent after the kill fails once the controller is gone (handled in order).
            with contextlib.suppress(Exception):
                rayground.get(controller.http_options.remote(), timeout=30)
    status_hook.drop()  # off the live views' status board (which ends when left empty)
    process_state.forget()


def get_app_handle(name: str) -> DeploymentHandle:
    """A handle to the ingress deployment of a running application."""
    controller = process_state.current().controller()
    raw = rayground.get(controller.get_status.remote())
    app = raw["applications"].get(name)
    if app is None:
        raise RayServeException(f"Application '{name}' does not exist.")
    return DeploymentHandle(app["ingress"], name)


def get_deployment_handle(deployment_name: str, app_name: str | None = None) -> DeploymentHandle:
    """A handle to one deployment of an application (inside a replica, its own application
    by default)."""
    controller = process_state.current().controller()
    raw = rayground.get(controller.get_status.remote())
    if app_name is None:
        from .context import _Current

        if _Current.context is not None:
            app_name = _Current.context.app_name
        elif len(raw["applications"]) == 1:
            app_name = next(iter(raw["applications"]))
        else:
            app_name = DEFAULT_APP_NAME
    app = raw["applications"].get(app_name)
    if app is None:
        raise RayServeException(f"Application '{app_name}' does not exist.")
    if deployment_name not in app["deployments"]:
        raise KeyError(
            f"Deployment {deployment_name!r} does not exist in application {app_name!r}; it has "
            f"{sorted(app['deployments'])}."
        )
    return DeploymentHandle(deployment_name, app_name)
