"""init/shutdown/get/put/wait/cancel/kill and friends: validate what the user passed, then delegate.

Every check here exists so that a mistake gets a message naming what was wrong and what to do,
instead of a failure deep inside the runtime.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from .. import exceptions
from . import config, context, lifetime, observe, protocol, resources
from . import runtime_env as runtime_env_mod
from .client import ClusterConnectionError, CoreClient
from .log_stream import print_lines
from .object_ref import ObjectRef
from .serialization import find_unpicklable

logger = logging.getLogger("rayground")

# Options of ray.init that only matter to Ray's own services; accepted so Ray code runs unchanged.
# Ray's private init options (its **kwargs): about Ray's own processes, they mean nothing here.
_IGNORED_INIT_OPTIONS = {
    "_temp_dir",
    "_system_config",
    "_metrics_export_port",
    "_enable_object_reconstruction",
    "_plasma_directory",
    "_node_ip_address",
    "_memory",
    "_redis_password",
    "_tracing_startup_hook",
}


class RayContext(dict):
    """What init() returns: address_info as a dict, usable as a context manager like Ray's."""

    @property
    def address_info(self) -> dict[str, Any]:
        return dict(self)

    @property
    def dashboard_url(self) -> str | None:
        return None

    def disconnect(self) -> None:
        shutdown()

    def __enter__(self) -> RayContext:
        return self

    def __exit__(self, *exc: object) -> None:
        shutdown()


def is_initialized() -> bool:
    """True in a driver after init() and, as in Ray, inside every task and actor (their worker
    is connected), so library code's `if not is_initialized(): init()` starts nothing there."""
    client = context.current_client(required=False)
    return client is not None and client.role in ("driver", "worker")


def init(
    address: str | None = None,
    *,
    num_cpus: float | None = None,
    num_gpus: float | None = None,
    resources: dict[str, float] | None = None,
    labels: dict[str, str] | None = None,
    object_store_memory: int | None = None,
    local_mode: bool = False,
    ignore_reinit_error: bool = False,
    include_dashboard: bool | None = None,
    dashboard_host: str = "127.0.0.1",
    dashboard_port: int | None = None,
    job_config: Any = None,
    configure_logging: bool = True,
    logging_level: int | str = "info",
    logging_format: str | None = None,
    logging_config: Any = None,
    log_to_driver: bool | None = None,
    namespace: str | None = None,
    runtime_env: dict[str, Any] | None = None,
    enable_resource_isolation: bool = False,
    cgroup_path: str | None = None,
    system_reserved_cpu: float | None = None,
    system_reserved_memory: int | None = None,
    proxy_server_url: str | None = None,
    **kwargs: Any,
) -> RayContext:
    """Start a local cluster owned by this process, or connect to a running one.

    `address=None` starts a new cluster that dies with this process; `"auto"` joins the cluster
    started on this machine (`rayground start --head`); `"host:port"` joins one over TCP.

    The parameters are Ray's, in Ray's order. Those about Ray's dashboard, its logging setup
    and node labels are accepted and have no effect here (rayground has no dashboard; see
    docs/ray-compatibility.md); resource isolation and Ray Client's proxy are refused.
    """
    if kwargs.get("storage"):
        raise RuntimeError(  # Ray's error, word for word
            "Cluster-wide storage configuration has been removed. "
            "The last Ray version supporting the `storage` argument is `ray==2.47`."
        )
    unknown = [key for key in kwargs if key not in _IGNORED_INIT_OPTIONS]
    if unknown:
        # Ray's error type and opening words (a misspelt option is the usual cause).
        raise RuntimeError(
            f"Unknown keyword argument(s): {', '.join(unknown)}. init() takes Ray's options; "
            "check the spelling."
        )
    isolation = {
        "enable_resource_isolation": enable_resource_isolation or None,
        "cgroup_path": cgroup_path,
        "system_reserved_cpu": system_reserved_cpu,
        "system_reserved_memory": system_reserved_memory,
    }
    given = [name for name, value in isolation.items() if value is not None]
    if given:
        raise ValueError(
            f"init(): {', '.join(given)} configure Ray's resource isolation (cgroups), which "
            "rayground does not have. Leave them out, or run this code on the Ray backend."
        )
    if proxy_server_url is not None:
        raise ValueError(
            "init(proxy_server_url=...) connects through Ray Client's proxy, which rayground "
            "does not have. Give the cluster's address instead (init(address='host:port'))."
        )
    if log_to_driver is None:
        log_to_driver = True  # Ray's None: the default, workers' output shown in the driver
    if local_mode:
        logger.warning("local_mode is deprecated in Ray and ignored by rayground.")
    if logging_config is not None:
        if not hasattr(logging_config, "_apply"):
            raise TypeError(
                f"logging_config must be a LoggingConfig (rayground.LoggingConfig), got "
                f"{logging_config!r}"
            )
        logging_config._apply()
        logger.info(
            "logging_config is applied to this driver; rayground's workers keep Python's "
            "default logging (their output still reaches the driver)."
        )
    if job_config is not None:
        # What init() is given directly wins over the JobConfig's, as in Ray.
        if not hasattr(job_config, "runtime_env") or not hasattr(job_config, "ray_namespace"):
            raise TypeError(
                f"job_config must be a JobConfig (rayground.job_config), got {job_config!r}"
            )
        if runtime_env is None and job_config.runtime_env:
            runtime_env = dict(job_config.runtime_env)
        if namespace is None:
            namespace = job_config.ray_namespace
    existing = context.current_client(required=False)
    if existing is not None and existing.role == "driver":
        if existing.alive:
            if ignore_reinit_error:
                logger.info("Calling init() again after it has already been called.")
                return _context_info(existing)
            raise RuntimeError(
                "Maybe you called init() twice by accident? This error can be suppressed by "
                "passing in 'ignore_reinit_error=True' or by calling 'shutdown()' prior to "
                "'init()'."
            )
        shutdown()  # the old cluster died under us: start afresh
    if existing is not None and existing.role == "worker":
        return _context_info(existing)
    _validate_resources(num_cpus, num_gpus, resources, object_store_memory)
    job_env = runtime_env_mod.validate(runtime_env)  # a missing path fails here, as in Ray
    packages = runtime_env_mod.pack(job_env)  # before a cluster starts: nothing to undo
    address = address or os.environ.get("RAYGROUND_ADDRESS") or os.environ.get("RAY_ADDRESS")
    if address in ("local", ""):
        address = None
    info: dict[str, Any] = {
        "sys_path": _driver_sys_path(),
        "cwd": os.getcwd(),
        "namespace": namespace if namespace is not None else str(uuid.uuid4()),
        "env_vars": dict(job_env.get("env_vars") or {}),
        "log_to_driver": bool(log_to_driver),
    }
    head = None
    head_pid: int | None
    if address is None:
        gpu_count = resources_detect_gpus() if num_gpus is None else num_gpus
        head = lifetime.start_head(
            num_cpus=float(num_cpus if num_cpus is not None else (os.cpu_count() or 1)),
            num_gpus=float(gpu_count),
            gpu_ids=_gpu_names(gpu_count),
            resources=dict(resources or {}),
            object_store_memory=int(object_store_memory or config.default_object_store_memory()),
            owner_pid=os.getpid(),
            sys_path=info["sys_path"],
            cwd=info["cwd"],
        )
        target, token, head_pid = head.address, head.token, head.pid
    else:
        if any(v is not None for v in (num_cpus, num_gpus, resources, object_store_memory)):
            raise ValueError(
                "When connecting to an existing cluster, num_cpus, num_gpus, resources and "
                "object_store_memory cannot be given: they are set where the cluster is started "
                "(`rayground start --head --num-cpus ...`)."
            )
        target, token, head_pid = _resolve_address(address)
    try:
        client = CoreClient(
            target,
            token,
            role="driver",
            info=info,
            on_log=print_lines if log_to_driver else None,
            head_pid=head_pid,
        )
    except ClusterConnectionError:
        if head is not None:
            lifetime.stop_head(head.proc, head.shm_dir)
        raise
    client.owned_head = head  # type: ignore[attr-defined]
    try:
        runtime_env_mod.upload(client, packages)
    except BaseException:
        client.close()
        if head is not None:
            lifetime.stop_head(head.proc, head.shm_dir)
        raise
    client.job_runtime_env = runtime_env_mod.shipped(job_env, packages)  # type: ignore[attr-defined]
    client.namespace = info["namespace"]  # type: ignore[attr-defined]
    context.set_client(client)
    atexit.register(_shutdown_at_exit)
    return _context_info(client)


def resources_detect_gpus() -> int:
    return resources.detect_gpus()


def _gpu_names(count: float) -> list[str]:
    n = int(count)
    if n <= 0:
        return []
    names = resources.gpu_device_names(n)
    return names + [str(i) for i in range(len(names), n)]


def _resolve_address(address: str) -> tuple[str, bytes, int | None]:
    """(address to connect to, token, head pid if local) for "auto", "host:port" or "ipc://..."."""
    # A standalone cluster (`rayground start`) first, as Ray's "auto"; then the newest other one.
    if address == "auto":
        lifetime.sweep_stale_sessions()  # a head SIGKILLed meanwhile leaves no memory behind
    sessions = sorted(lifetime.list_local_sessions(), key=lambda s: s.owner_pid is not None)
    if address == "auto":
        for session in sessions:
            try:
                return session.address, session.read_token(), session.pid
            except OSError:
                continue
        raise ConnectionError(
            "Could not find a running rayground cluster on this machine. Start one with "
            "`rayground start --head`, or call init() without an address to start a "
            "private one."
        )
    from .transport import normalize_address

    target = normalize_address(address)
    token = os.environ.get("RAYGROUND_TOKEN", "").strip().encode()
    head_pid = None
    # Security: a token is taken from a session file only for the address that session's own
    # head.json records; never another session's token for an address it does not know (that
    # address may be anyone's). The handshake never sends the token either way.
    for session in sessions:
        if target not in session.addresses:
            continue
        try:
            local_token = session.read_token()
        except OSError:
            continue
        head_pid = session.pid
        token = token or local_token
        break
    if not token:
        raise ConnectionError(
            f"No token for the cluster at {address}: it is not one of your sessions on this "
            "machine. Set RAYGROUND_TOKEN to its token (the head prints where its token file "
            "is when it starts), or give the address `rayground start --head` printed."
        )
    return target, token, head_pid


def _validate_resources(
    num_cpus: float | None,
    num_gpus: float | None,
    custom: dict[str, float] | None,
    object_store_memory: int | None,
) -> None:
    for name, value in (("num_cpus", num_cpus), ("num_gpus", num_gpus)):
        if value is not None and (not isinstance(value, int | float) or value < 0):
            raise ValueError(f"{name} must be a number >= 0, got {value!r}")
    if custom is not None:
        if not isinstance(custom, dict):
            raise TypeError(f"resources must be a dict such as {{'widget': 2}}, got {custom!r}")
        for key, value in custom.items():
            if key in ("CPU", "GPU"):
                raise ValueError(f"Use num_cpus/num_gpus instead of resources={{{key!r}: ...}}.")
            if not isinstance(value, int | float) or value < 0:
                raise ValueError(f"resource {key!r} must be a number >= 0, got {value!r}")
    if object_store_memory is not None and (
        not isinstance(object_store_memory, int) or object_store_memory < 1024 * 1024
    ):
        raise ValueError(
            f"object_store_memory must be a number of bytes >= 1 MiB, got {object_store_memory!r}"
        )


def _driver_sys_path() -> list[str]:
    cwd = os.getcwd()
    return [os.path.abspath(p) if p else cwd for p in sys.path]


def _context_info(client: CoreClient) -> RayContext:
    session = client.session
    return RayContext(
        address=client.address,
        session_dir=session.get("session_dir"),
        node_id=session.get("node_id"),
        node_ip_address=session.get("node_ip"),
        job_id=session.get("job_id"),
        gcs_address=client.address,
    )


def shutdown(*, wait_for_processes: bool = False, _exiting_interpreter: bool = False) -> None:
    """Disconnect; stop the cluster if this process started it. Safe to call twice.

    Ray's keywords are accepted: rayground always waits (bounded) for the processes of a cluster
    it stops, so `wait_for_processes` changes nothing; `_exiting_interpreter` is Ray's own."""
    client = context.current_client(required=False)
    if client is None or client.role != "driver":
        return
    context.set_client(None)
    head = getattr(client, "owned_head", None)
    try:
        client.close()
    finally:
        if head is not None:
            lifetime.stop_head(head.proc, head.shm_dir)


def _shutdown_at_exit() -> None:
    try:
        shutdown()
    except Exception:
        pass


def connected_client() -> CoreClient:
    """The client of this process, starting a local cluster first if none (as Ray does)."""
    client = context.current_client(required=False)
    if client is None:
        init()
        client = context.current_client(required=True)
    assert client is not None
    if not client.alive:
        raise exceptions.RaySystemError(
            "The rayground cluster this process was connected to is gone. Call "
            "rayground.shutdown() and then rayground.init() to start a new one."
        )
    return client


def _is_worker(client: CoreClient) -> bool:
    return client.role == "worker"


# ---------------------------------------------------------------------------- objects
def put(value: Any, *, _owner: Any = None) -> ObjectRef:
    """Store `value` in the object store once; pass the returned ref to many tasks."""
    if isinstance(value, ObjectRef):
        raise TypeError(
            "Calling 'put' on an ObjectRef is not allowed. If you really want to do this, you "
            "can wrap the ObjectRef in a list and call 'put' on it."
        )
    client = connected_client()
    from .ids import unique
    from .serialization import serialize

    try:
        obj = serialize(value)
    except Exception as exc:
        found = find_unpicklable(value)
        what = ""
        if found is not None:
            path, culprit = found
            where = "value" + path if path else "the value"
            what = f" The part that fails is {where}, a {type(culprit).__qualname__}."
        raise TypeError(
            f"Could not serialize the value passed to put(): {type(exc).__name__}: {exc}.{what} "
            "Store plain data (numbers, strings, lists, dicts, NumPy arrays) or objects that "
            "can be pickled."
        ) from None
    oid = unique("o")
    ref = ObjectRef(oid, _client=client)
    client.put_serialized(oid, obj)
    return ref


def _check_refs(value: Any, what: str) -> tuple[list[ObjectRef], bool]:
    if isinstance(value, ObjectRef):
        return [value], True
    if isinstance(value, list | tuple):
        bad = [v for v in value if not isinstance(v, ObjectRef)]
        if bad:
            raise TypeError(
                f"{what}() expects ObjectRefs, but the list holds a {type(bad[0]).__name__} "
                f"({_short(bad[0])}). Pass the refs returned by f.remote(...) or put(...)."
            )
        return list(value), False
    from .generators import ObjectRefGenerator

    if isinstance(value, ObjectRefGenerator):
        raise TypeError(
            f"{what}() got an ObjectRefGenerator. Iterate over it to get ObjectRefs: "
            f"`for ref in gen: {what}(ref)`."
        )
    raise ValueError(
        f"{what}() expects an ObjectRef or a list of ObjectRefs, got {type(value).__name__} "
        f"({_short(value)}). Pass the ref returned by f.remote(...) or put(...); if you already "
        "have the value, use it directly."
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def get(object_refs: Any, *, timeout: float | None = None) -> Any:
    """Block until the values are ready; a list in gives a list out, in the same order."""
    refs, single = _check_refs(object_refs, "get")
    if timeout is not None and (not isinstance(timeout, int | float) or timeout < 0):
        raise ValueError(f"timeout must be a number of seconds >= 0 or None, got {timeout!r}")
    client = connected_client()
    if observe.block_hooks and not _is_worker(client):
        start = time.time()
        kind = "get_error"  # a get that raised (a task's error, a timeout) did not get the values
        try:
            values = client.get_values([r._id for r in refs], timeout, blocking=False)
            kind = "get"
        finally:
            observe.blocked(kind, start, time.time(), [r._id for r in refs])
    else:
        values = client.get_values([r._id for r in refs], timeout, blocking=_is_worker(client))
    return values[0] if single else values


def wait(
    ray_waitables: Sequence[Any],
    *,
    num_returns: int = 1,
    timeout: float | None = None,
    fetch_local: bool = True,
) -> tuple[list[Any], list[Any]]:
    """Return (ready, not_ready): `num_returns` waitables that are complete, in the order given.
    A waitable is an ObjectRef, or an ObjectRefGenerator: ready when its next item (or its
    end) is, as in Ray."""
    from .generators import ObjectRefGenerator

    if isinstance(ray_waitables, ObjectRef | ObjectRefGenerator):
        raise TypeError(
            f"wait() expects a list of ObjectRefs, got a single {type(ray_waitables).__name__}. "
            "Use wait([ref])."
        )
    items = list(ray_waitables)
    has_generators = any(isinstance(w, ObjectRefGenerator) for w in items)
    _check_refs([w for w in items if not isinstance(w, ObjectRefGenerator)], "wait")
    if not items:
        return [], []
    # The object ids each waitable is ready by: a ref's own; a generator's next item and end.
    groups = [w._wait_ids() if isinstance(w, ObjectRefGenerator) else [w._id] for w in items]
    if len({g[0] for g in groups}) != len(items):
        raise ValueError("Wait requires a list of unique object refs.")
    if not isinstance(num_returns, int) or num_returns < 0:
        raise ValueError(f"num_returns must be a non-negative int, got {num_returns!r}")
    if num_returns > len(items):
        raise ValueError(
            f"num_returns ({num_returns}) cannot be greater than the number of refs "
            f"({len(items)}) passed to wait()."
        )
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be >= 0 or None, got {timeout!r}")
    client = connected_client()
    blocking = _is_worker(client)
    oids = [oid for group in groups for oid in group]
    start = time.time()
    if has_generators:
        ready_ids = _wait_groups(client, groups, num_returns, timeout, blocking)
    else:
        ready_ids = set(client.wait_descs(oids, num_returns, timeout, blocking=blocking))
    if observe.block_hooks and not blocking:
        observe.blocked("wait", start, time.time(), oids)
    # As in Ray: among the refs that are ready, the first `num_returns` in the order given.
    if not has_generators and len(ready_ids) == len(items) and num_returns == len(items):
        return items, []  # all of them (a common call: wait for everything, with a timeout)
    ready: list[Any] = []
    not_ready: list[Any] = []
    room = num_returns
    for item, group in zip(items, groups, strict=True):
        if room and any(oid in ready_ids for oid in group):
            ready.append(item)
            room -= 1
        else:
            not_ready.append(item)
    return ready, not_ready


def _wait_groups(
    client: CoreClient,
    groups: list[list[str]],
    num_returns: int,
    timeout: float | None,
    blocking: bool,
) -> set[str]:
    """The ready ids once `num_returns` groups have one ready (or at the timeout). A group can
    hold two ids (a generator's next item and its end), so this asks for one more ready id at a
    time until enough groups are covered."""
    oids = [oid for group in groups for oid in group]
    deadline = None if timeout is None else time.monotonic() + timeout
    ready = set(client.wait_descs(oids, 0, 0, blocking))  # those known already
    while sum(1 for group in groups if any(oid in ready for oid in group)) < num_returns:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            break
        ready = set(client.wait_descs(oids, len(ready) + 1, left, blocking))
    return ready


def cancel(ray_waitable: ObjectRef, *, force: bool = False, recursive: bool = True) -> None:
    """Cancel the task that produces `ray_waitable` (an ObjectRef, or the ObjectRefGenerator of a
    generator task); `get` on it then raises TaskCancelledError."""
    from .generators import ObjectRefGenerator

    if isinstance(ray_waitable, ObjectRefGenerator):
        ray_waitable = ray_waitable._end  # its task's ref, as Ray's _generator_ref
    if not isinstance(ray_waitable, ObjectRef):
        raise TypeError(
            f"cancel() expects an ObjectRef returned by f.remote(...), got "
            f"{type(ray_waitable).__name__}. To stop an actor, use kill(actor)."
        )
    client = connected_client()
    client.send((protocol.CANCEL, ray_waitable._id, bool(force), bool(recursive)))


# ---------------------------------------------------------------------------- actors
def kill(actor: Any, *, no_restart: bool = True) -> None:
    """Kill an actor's process at once; pending calls fail with ActorDiedError."""
    from ..actor import ActorHandle

    if not isinstance(actor, ActorHandle):
        raise TypeError(
            f"kill() expects an actor handle, got {type(actor).__name__}. To stop a task, use "
            "cancel(ref)."
        )
    client = connected_client()
    client.direct.stop_direct(actor._actor_id)
    client.send((protocol.KILL_ACTOR, actor._actor_id, bool(no_restart)))


def get_actor(name: str, namespace: str | None = None) -> Any:
    """The handle of the named actor (in this job's namespace unless `namespace` is given)."""
    from ..actor import ActorHandle

    if not isinstance(name, str) or not name:
        raise ValueError(f"get_actor() needs the actor's name as a non-empty str, got {name!r}")
    client = connected_client()
    ns = namespace if namespace is not None else current_namespace(client)
    reply = client.request("get_actor", {"name": name, "namespace": ns})
    return ActorHandle._from_reply(reply)


def current_namespace(client: CoreClient) -> str | None:
    if client.role == "worker":
        return context.task_context().get("namespace")
    return getattr(client, "namespace", None)


# ---------------------------------------------------------------------------- cluster info
def timeline(filename: str | None = None) -> list[dict[str, Any]] | None:
    """The cluster's recent task runs as Chrome-trace events, as `ray.timeline`: returned, or
    written to `filename` as JSON (then None). Open the file in https://ui.perfetto.dev or
    chrome://tracing: a row per worker process, a bar per task run."""
    import json

    from .trace import cluster_trace

    trace = cluster_trace(connected_client(), config.TASK_HISTORY)
    if filename is None:
        return trace
    with open(filename, "w") as f:
        json.dump(trace, f)
    return None


def cluster_resources() -> dict[str, float]:
    return connected_client().request("cluster_resources")


def available_resources() -> dict[str, float]:
    return connected_client().request("available_resources")


def nodes() -> list[dict[str, Any]]:
    return connected_client().request("nodes")


def get_gpu_ids() -> list[int | str]:
    ids = context.task_context().get("gpu_ids") or []
    return [int(i) if str(i).isdigit() else i for i in ids]
