"""get_runtime_context(): which job, task, actor, node and worker the caller is running in."""

from __future__ import annotations

import json
import os
import warnings
from typing import Any

from ._core import api, context, ids, runtime_env
from .runtime_env import RuntimeEnv


def _hex(internal: str | None) -> str | None:
    return None if internal is None else ids.to_hex(internal)


class RuntimeContext:
    """Ray's RuntimeContext surface. Ids are hex strings, as `ObjectRef.hex()` and the state API
    show them; the properties (`task_id`, ...) are Ray's ID objects."""

    def _client(self) -> Any:
        return api.connected_client()

    def get_job_id(self) -> str:
        ctx = context.task_context()
        return ctx.get("job_id") or self._client().session.get("job_id") or ""

    def get_task_id(self) -> str | None:
        return _hex(context.task_context().get("task_id"))

    def get_actor_id(self) -> str | None:
        return _hex(context.task_context().get("actor_id"))

    def get_node_id(self) -> str:
        return self._client().session["node_id"]

    def get_worker_id(self) -> str:
        ctx = context.task_context()
        return ids.to_hex(ctx.get("worker_id") or self._client().client_id)

    @property
    def job_id(self) -> ids.JobID:
        return ids.JobID(self.get_job_id())

    @property
    def node_id(self) -> ids.NodeID:
        return ids.NodeID(self.get_node_id())

    @property
    def task_id(self) -> ids.TaskID | None:
        internal = context.task_context().get("task_id")
        return None if internal is None else ids.TaskID(internal)

    @property
    def actor_id(self) -> ids.ActorID | None:
        internal = context.task_context().get("actor_id")
        return None if internal is None else ids.ActorID(internal)

    def get_task_name(self) -> str | None:
        return context.task_context().get("name")

    def get_accelerator_ids(self) -> dict[str, list[str]]:
        return {"GPU": list(context.task_context().get("gpu_ids") or [])}

    def get_assigned_resources(self) -> dict[str, float]:
        return dict(context.task_context().get("resources") or {})

    @property
    def namespace(self) -> str | None:
        return api.current_namespace(self._client())

    @property
    def gcs_address(self) -> str:
        client = self._client()
        addresses = client.session.get("addresses") or [client.address]
        tcp = [a for a in addresses if a.startswith("tcp://")]
        return (tcp[0][len("tcp://") :]) if tcp else client.address

    @property
    def was_current_actor_reconstructed(self) -> bool:
        return bool(context.task_context().get("restarted"))

    def get_actor_name(self) -> str | None:
        """The current actor's name ("" when it has none); None outside an actor."""
        ctx = context.task_context()
        return (ctx.get("actor_name") or "") if ctx.get("actor_id") else None

    def get_task_function_name(self) -> str | None:
        """`module.qualname` of the running task's function (`module.Class.method` in an
        actor); None in a driver."""
        return context.task_context().get("function_name")

    @property
    def current_actor(self) -> Any:
        """The handle of the actor this code runs in."""
        ctx = context.task_context()
        if not ctx.get("actor_id"):
            raise RuntimeError("This method is only available in an actor.")
        from .actor import ActorHandle

        return ActorHandle(ctx["actor_id"], dict(ctx.get("actor_meta") or {}))

    def is_canceled(self) -> bool:
        """Whether cancel() was called on the running task or sync actor call: a long call can
        check it now and then and stop cleanly (a cancelled actor call's result is then a
        TaskCancelledError whatever it returns). Raises RuntimeError in a driver and in an async
        actor (there cancel() cancels the asyncio task), as Ray does."""
        client = self._client()
        if client.role != "worker":
            # Ray's wording, with its mode number for a driver (SCRIPT_MODE).
            raise RuntimeError(
                "This method is only available when the process is a worker. Current mode: 0"
            )
        ctx = context.task_context()
        if ctx.get("async_actor"):
            raise RuntimeError("This method is not supported in an async actor.")
        flag = ctx.get("cancel_flag")
        return flag is not None and flag.is_set()

    def get_session_name(self) -> str:
        """The cluster's session (its directory's name, as Ray's `session_...`)."""
        return os.path.basename(self._client().session.get("session_dir") or "")

    def get_temp_dir(self) -> str:
        """Where this user's clusters keep their session directories."""
        session_dir = self._client().session.get("session_dir") or ""
        return os.path.dirname(session_dir)

    def get_node_labels(self) -> dict[str, str]:
        return {"ray.io/node-id": self.get_node_id()}

    def get_resource_ids(self) -> dict[str, list[str]]:
        warnings.warn(
            "get_resource_ids() is deprecated, as in Ray. Use get_accelerator_ids() instead",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.get_accelerator_ids()

    def get_placement_group_id(self) -> str | None:
        """The placement group this task or actor runs in (hex), None outside one and in the
        driver."""
        info = context.task_context().get("placement_group")
        return str(info["id"]) if info else None

    @property
    def current_placement_group_id(self) -> Any:
        from .util.placement_group import PlacementGroupID

        warnings.warn(
            "current_placement_group_id is deprecated, as in Ray: use get_placement_group_id()",
            DeprecationWarning,
            stacklevel=2,
        )
        return PlacementGroupID(self.get_placement_group_id() or "f" * 36)

    @property
    def should_capture_child_tasks_in_placement_group(self) -> bool:
        """Whether tasks this one submits run in its placement group by default (it was
        scheduled with placement_group_capture_child_tasks=True)."""
        info = context.task_context().get("placement_group")
        return bool(info and info.get("capture"))

    @property
    def runtime_env(self) -> RuntimeEnv:
        """The runtime_env this task, actor or driver runs with: the job's merged with each
        parent's, working_dir and py_modules named by their uploaded packages (as Ray)."""
        return RuntimeEnv(**(runtime_env.current(self._client()) or {}))

    def get_runtime_env_string(self) -> str:
        return json.dumps(dict(self.runtime_env))

    def get(self) -> dict[str, Any]:
        return {
            "job_id": self.get_job_id(),
            "node_id": self.get_node_id(),
            "task_id": self.get_task_id(),
            "actor_id": self.get_actor_id(),
            "namespace": self.namespace,
        }


def get_runtime_context() -> RuntimeContext:
    return RuntimeContext()
