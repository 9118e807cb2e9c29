"""The two clusters a notebook can drive: rayground's own runtime, or real Ray.

Both give the views the same rows (rayground's state-table shape, see `_core/head_requests.py`),
so each view is written once. Ray's state API lacks some of what rayground records (the refs a
task consumed, the store's per-object holders, an event stream); `Backend.limits` says which,
and the views poll instead of subscribing there.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

# Ray's state API refuses larger limits unless RAY_MAX_LIMIT_FROM_API_SERVER is raised.
RAY_STATE_LIMIT = 10_000

RAY_INSTALL_HINT = (
    "--backend ray needs Ray in this kernel's environment. Install it with "
    "`pip install 'rayground[ray]'` (or `pip install ray`), restart the kernel, and run "
    "%ray_init --backend ray again. Your code then imports `ray` instead of `rayground`."
)


@dataclass(frozen=True)
class InitArgs:
    """What %ray_init was given; equal args mean the running cluster is reused."""

    num_cpus: float | None = None
    num_gpus: float | None = None
    resources: tuple[tuple[str, float], ...] = ()
    object_store_memory: int | None = None
    address: str | None = None
    backend: str = "rayground"

    def init_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        if self.num_cpus is not None:
            kwargs["num_cpus"] = self.num_cpus
        if self.num_gpus is not None:
            kwargs["num_gpus"] = self.num_gpus
        if self.resources:
            kwargs["resources"] = dict(self.resources)
        if self.object_store_memory is not None:
            kwargs["object_store_memory"] = self.object_store_memory
        if self.address is not None:
            kwargs["address"] = self.address
        return kwargs

    def describe_change(self, new: InitArgs) -> str:
        names = {
            "num_cpus": "--num-cpus",
            "num_gpus": "--num-gpus",
            "resources": "--resources",
            "object_store_memory": "--object-store-memory",
            "address": "--address",
            "backend": "--backend",
        }
        old_d, new_d = asdict(self), asdict(new)
        parts = [
            f"{flag} {_show(old_d[key])} -> {_show(new_d[key])}"
            for key, flag in names.items()
            if old_d[key] != new_d[key]
        ]
        return ", ".join(parts)


def _show(value: Any) -> str:
    if value is None or value == ():
        return "(default)"
    if isinstance(value, tuple):
        return json.dumps(dict(value), sort_keys=True)
    if isinstance(value, float):
        return _num(value)
    return str(value)


_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1024,
    "kb": 1000,
    "kib": 1024,
    "m": 1024**2,
    "mb": 1000**2,
    "mib": 1024**2,
    "g": 1024**3,
    "gb": 1000**3,
    "gib": 1024**3,
    "t": 1024**4,
    "tb": 1000**4,
    "tib": 1024**4,
}


def parse_size(text: str) -> int:
    """'512MiB', '1GB', '2g', '1e9' -> bytes (KB/MB/GB decimal, K/M/G and KiB/MiB/GiB binary)."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([A-Za-z]*)\s*", text)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _SIZE_UNITS:
        raise ValueError(
            f"cannot read {text!r} as a size: give bytes or a number with a unit, such as "
            "512MiB, 1GB or 2G"
        )
    return int(float(match.group(1)) * _SIZE_UNITS[unit])


def parse_resources(text: str) -> tuple[tuple[str, float], ...]:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        text = text[1:-1]  # IPython hands quoted magic arguments over with their quotes
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"--resources takes a JSON object such as '{{\"widget\": 2}}' (quote it); "
            f"{text!r} is not valid JSON ({exc.msg})"
        ) from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
        for k, v in value.items()
    ):
        raise ValueError(
            f"--resources takes a JSON object of names to numbers, such as '{{\"widget\": 2}}'; "
            f"got {text!r}"
        )
    return tuple(sorted((k, float(v)) for k, v in value.items()))


@dataclass
class ClusterStatus:
    """What the status view shows; `text()` is its stable plain form (compared by nbval)."""

    backend: str
    address: str
    started_here: bool
    nodes: int
    cpus: float
    cpus_free: float
    gpus: float
    gpus_free: float
    custom: dict[str, float] = field(default_factory=dict)
    store_used: int = 0
    store_capacity: int = 0
    spilled: int = 0
    tasks: dict[str, int] = field(default_factory=dict)
    actors: dict[str, int] = field(default_factory=dict)
    objects: int = 0
    workers: int = 0

    def text(self) -> str:
        origin = "started by this kernel" if self.started_here else "joined"
        lines = [
            f"{self.backend} cluster ({origin})",
            f"  nodes: {self.nodes}   CPUs: {_num(self.cpus)}   GPUs: {_num(self.gpus)}"
            + "".join(f"   {k}: {_num(v)}" for k, v in sorted(self.custom.items())),
            f"  object store: {format_bytes(self.store_used)} of "
            f"{format_bytes(self.store_capacity)} used"
            + (f", {format_bytes(self.spilled)} spilled" if self.spilled else ""),
        ]
        return "\n".join(lines)

    def activity_text(self) -> str:
        running = self.tasks.get("RUNNING", 0)
        pending = sum(n for s, n in self.tasks.items() if s.startswith("PENDING"))
        done = self.tasks.get("FINISHED", 0)
        failed = self.tasks.get("FAILED", 0)
        alive = self.actors.get("ALIVE", 0)
        return (
            f"  tasks: {running} running, {pending} pending, {done} finished, {failed} failed"
            f"   actors: {alive} alive   objects: {self.objects}"
        )


def _custom(total: dict[str, float]) -> dict[str, float]:
    """User-defined resources only: not CPU/GPU, memory, or the per-node markers."""
    skip = ("CPU", "GPU", "memory", "object_store_memory")
    return {k: v for k, v in total.items() if k not in skip and not k.startswith("node:")}


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def format_bytes(n: float) -> str:
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


class Backend:
    """A cluster the kernel is connected to; rows are shaped as rayground's state tables."""

    name = "rayground"
    limits: tuple[str, ...] = ()

    def __init__(self, args: InitArgs) -> None:
        self.args = args
        self.started_here = args.address is None

    # lifecycle
    def start(self) -> None:
        raise NotImplementedError

    def shutdown(self) -> None:
        raise NotImplementedError

    def connected(self) -> bool:
        raise NotImplementedError

    def owns_cluster(self) -> bool:
        """True if shutting down stops the cluster (this kernel started it)."""
        return self.started_here

    # state
    def status(self) -> ClusterStatus:
        raise NotImplementedError

    def tasks(self, limit: int = 100_000) -> list[dict[str, Any]]:
        raise NotImplementedError

    def objects(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def actors(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def value(self, object_id: str, timeout: float = 2.0) -> Any:
        raise NotImplementedError

    def subscribe(self, handler: Callable[[int, list, int], None]) -> Callable[[], None] | None:
        """Follow the event stream; None where there is none (the views then poll)."""
        return None


class RaygroundBackend(Backend):
    name = "rayground"

    def start(self) -> None:
        import rayground

        if not rayground.is_initialized():
            rayground.init(**self.args.init_kwargs())

    def shutdown(self) -> None:
        import rayground

        rayground.shutdown()

    def connected(self) -> bool:
        from .._core import context

        client = context.current_client(required=False)
        return client is not None and client.role == "driver" and client.alive

    def owns_cluster(self) -> bool:
        return getattr(self._client(), "owned_head", None) is not None

    def _client(self) -> Any:
        from .._core import context

        client = context.current_client(required=False)
        if client is None or not client.alive:
            raise RuntimeError("not connected to a cluster: run %ray_init first")
        return client

    def _request(self, what: str, args: dict | None = None, timeout: float = 10.0) -> Any:
        return self._client().request(what, args or {}, timeout=timeout)

    def status(self) -> ClusterStatus:
        st = self._request("status")
        total: dict[str, float] = {}
        free: dict[str, float] = {}
        for node in st["nodes"]:
            for k, v in node["resources_total"].items():
                total[k] = total.get(k, 0) + v
            for k, v in node["resources_available"].items():
                free[k] = free.get(k, 0) + v
        return ClusterStatus(
            backend="rayground",
            address=self._client().address,
            started_here=getattr(self._client(), "owned_head", None) is not None,
            nodes=len(st["nodes"]),
            cpus=total.get("CPU", 0),
            cpus_free=free.get("CPU", 0),
            gpus=total.get("GPU", 0),
            gpus_free=free.get("GPU", 0),
            custom=_custom(total),
            store_used=st["store_used"],
            store_capacity=st["store_capacity"],
            spilled=st["spilled_bytes"],
            tasks=st["tasks"],
            actors=st["actors"],
            objects=st["objects"],
            workers=st["workers"],
        )

    def tasks(self, limit: int = 100_000) -> list[dict[str, Any]]:
        return self._request("list_tasks", {"limit": limit}, timeout=30)

    def objects(self) -> list[dict[str, Any]]:
        return self._request("list_objects")

    def actors(self) -> list[dict[str, Any]]:
        return self._request("list_actors")

    def value(self, object_id: str, timeout: float = 2.0) -> Any:
        import rayground

        from .._core.object_ref import ObjectRef

        ref = ObjectRef(object_id, _borrowed=True, _client=self._client())
        return rayground.get(ref, timeout=timeout)

    def subscribe(self, handler: Callable[[int, list, int], None]) -> Callable[[], None] | None:
        from ..util import state

        return state.subscribe(handler)


class RayBackend(Backend):
    """Real Ray through `ray.util.state`. It records no consumed refs per task, so the DAG shows
    parent -> child edges only; there is no event stream, so the views poll."""

    name = "ray"
    limits = (
        "Ray's state API does not record which refs a task consumed: the DAG shows "
        "parent/child edges only.",
        "Ray has no event stream for notebooks: the views poll the state API every second.",
    )

    def __init__(self, args: InitArgs) -> None:
        super().__init__(args)
        try:
            import ray
        except ImportError:
            raise ImportError(RAY_INSTALL_HINT) from None
        if not hasattr(ray, "init"):  # a stray ./ray folder imports as an empty namespace
            where = list(getattr(ray, "__path__", []))
            raise ImportError(f"`import ray` found a folder, not Ray ({where}). {RAY_INSTALL_HINT}")

    def start(self) -> None:
        import ray

        if not ray.is_initialized():
            kwargs = self.args.init_kwargs()
            if kwargs.get("address") is None:
                # A new local Ray cluster listens on loopback, as ours does (Ray would pick the
                # machine's first address and be reachable from the network).
                kwargs["_node_ip_address"] = "127.0.0.1"
            ray.init(**kwargs)
        self._address = None

    @property
    def address(self) -> str | None:
        """Our cluster's GCS address: other Ray clusters on this machine (another user's, another
        kernel's) would make the state API's own lookup ambiguous."""
        if getattr(self, "_address", None) is None:
            import ray

            self._address = ray.get_runtime_context().gcs_address
        return self._address

    def shutdown(self) -> None:
        import ray

        ray.shutdown()

    def connected(self) -> bool:
        import ray

        return bool(ray.is_initialized())

    def status(self) -> ClusterStatus:
        import ray
        from ray.util import state

        total = ray.cluster_resources()
        free = ray.available_resources()
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        used = 0
        try:
            used = sum(
                max(int(o.object_size or 0), 0)
                for o in state.list_objects(address=self.address, limit=RAY_STATE_LIMIT)
            )
        except Exception:
            pass
        tasks: dict[str, int] = {}
        actors: dict[str, int] = {}
        objects = 0
        try:
            for t in state.list_tasks(address=self.address, limit=RAY_STATE_LIMIT):
                if t.type != "ACTOR_CREATION_TASK":
                    tasks[t.state] = tasks.get(t.state, 0) + 1
            for a in state.list_actors(address=self.address, limit=RAY_STATE_LIMIT):
                actors[a.state] = actors.get(a.state, 0) + 1
            objects = len(state.list_objects(address=self.address, limit=RAY_STATE_LIMIT))
        except Exception:
            pass
        return ClusterStatus(
            backend="ray",
            address=str(ray.get_runtime_context().gcs_address),
            started_here=self.started_here,
            nodes=len(nodes),
            cpus=total.get("CPU", 0),
            cpus_free=free.get("CPU", 0),
            gpus=total.get("GPU", 0),
            gpus_free=free.get("GPU", 0),
            custom=_custom(total),
            store_used=used,
            store_capacity=int(total.get("object_store_memory", 0)),
            tasks=tasks,
            actors=actors,
            objects=objects,
        )

    def tasks(self, limit: int = RAY_STATE_LIMIT) -> list[dict[str, Any]]:
        from ray.util import state

        limit = min(limit, RAY_STATE_LIMIT)
        return [
            ray_task_row(t)
            for t in state.list_tasks(address=self.address, limit=limit, detail=True)
        ]

    def objects(self) -> list[dict[str, Any]]:
        from ray.util import state

        rows = []
        for o in state.list_objects(address=self.address, limit=RAY_STATE_LIMIT):
            rows.append(
                {
                    "object_id": o.object_id,
                    "object_size": max(int(o.object_size or 0), 0),  # Ray says -1 if unknown
                    "task_id": getattr(o, "task_id", None),
                    "owner": getattr(o, "pid", None),
                    "reference_count": 1,
                    "holders": [str(o.reference_type)],
                    "pins": 0,
                    "status": o.task_status,
                    "where": "shared_memory",
                    "spilled": False,
                    "created": None,
                }
            )
        return rows

    def actors(self) -> list[dict[str, Any]]:
        from ray.util import state

        rows = []
        for a in state.list_actors(address=self.address, limit=RAY_STATE_LIMIT):
            rows.append(
                {
                    "actor_id": a.actor_id,
                    "class_name": a.class_name,
                    "name": a.name or "",
                    "state": a.state,
                    "pid": a.pid,
                    "num_restarts": int(getattr(a, "num_restarts", 0) or 0),
                    "calls_done": None,
                    "calls_queued": None,
                    "death_cause": None,
                }
            )
        return rows

    def value(self, object_id: str, timeout: float = 2.0) -> Any:
        import ray

        return ray.get(ray.ObjectRef(bytes.fromhex(object_id)), timeout=timeout)


def ray_task_row(t: Any) -> dict[str, Any]:
    """A `ray.util.state` task row in rayground's shape."""
    events = [(e.get("state"), (e.get("created_ms") or 0) / 1000) for e in (t.events or [])]
    return {
        "task_id": t.task_id,
        "name": t.name,
        "state": t.state,
        "type": t.type,
        "actor_id": t.actor_id,
        "parent_task_id": t.parent_task_id,
        "depends_on": [],
        "worker_id": t.worker_id,
        "worker_pid": t.worker_pid,
        "required_resources": t.required_resources or {},
        "error_message": t.error_message,
        "events": events,
        "creation_time_ms": t.creation_time_ms,
        "start_time_ms": t.start_time_ms,
        "end_time_ms": t.end_time_ms,
        "node_id": t.node_id,
        "attempt_number": t.attempt_number,
    }


def make_backend(args: InitArgs) -> Backend:
    if args.backend == "ray":
        return RayBackend(args)
    if args.backend == "rayground":
        return RaygroundBackend(args)
    raise ValueError(f"--backend must be 'rayground' or 'ray', got {args.backend!r}")


def wait_connected(backend: Backend, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if backend.connected():
            return True
        time.sleep(0.05)
    return backend.connected()
