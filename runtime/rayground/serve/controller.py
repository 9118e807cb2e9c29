"""The Serve controller: one detached async actor per cluster that owns the applications, their
deployments and replicas, and the HTTP proxy.

    serve.run --deploy_application--> controller --create/initialize/kill--> replicas
    control loop (every 0.1 s): start missing replicas, stop extra or outdated ones (rolling
        update), health checks, autoscaling decisions
    routers/proxy --listen(known versions)--> controller: answers when a replica set or the
        route table changes (long poll)

Replica sets and routes are versioned per key; a long poll returns the keys whose version
differs from what the caller knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import rayground

from . import status_board as status_hook
from ._names import (
    PROXY_NAME,
    ROUTES_KEY,
    SERVE_NAMESPACE,
    deployment_key,
    replica_actor_name,
)
from .config import DeploymentConfig, HTTPOptions
from .exceptions import RayServeException
from .replica import Replica

_TICK_S = 0.1
_SLOW_START_S = 30.0  # a replica still starting after this long is reported in the status
_METRICS_PERIOD_S = 0.25  # how often autoscaled deployments' replicas are asked for their load


@dataclass
class _ReplicaRecord:
    replica_id: str
    actor: Any
    code_version: str
    state: str = "STARTING"  # STARTING -> RUNNING -> STOPPING
    started_at: float = field(default_factory=time.time)
    pid: int | None = None
    next_health_check: float = 0.0
    health_task: asyncio.Task | None = None


@dataclass
class _DeploymentState:
    app_name: str
    name: str
    blob: bytes
    code_version: str
    config: DeploymentConfig
    target: int
    status: str = "UPDATING"
    message: str = ""
    replicas: dict[str, _ReplicaRecord] = field(default_factory=dict)
    constructor_failures: int = 0
    deleting: bool = False
    # autoscaling: (time, total ongoing+queued) samples and when a wish to scale began
    samples: deque = field(default_factory=deque)
    scale_wish: tuple[int, float] | None = None
    last_metrics: float = 0.0
    processed: dict[str, int] = field(default_factory=dict)
    rate: float = 0.0
    rate_at: tuple[float, int] = (0.0, 0)
    load: dict[str, dict] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return deployment_key(self.app_name, self.name)


@dataclass
class _AppState:
    name: str
    route_prefix: str | None
    ingress: str
    deployments: list[str]
    status: str = "DEPLOYING"
    message: str = ""
    deployed_at: float = field(default_factory=time.time)


class ServeController:
    def __init__(self) -> None:
        self._apps: dict[str, _AppState] = {}
        self._deployments: dict[str, _DeploymentState] = {}
        self._versions: dict[str, int] = {}
        self._global_version = 0
        self._changed: asyncio.Event | None = None
        self._loop_task: asyncio.Task | None = None
        self._proxy: Any = None
        self._http: HTTPOptions | None = None
        self._actor_classes: dict[str, Any] = {}
        self._stopping: set[asyncio.Task] = set()
        self._tasks: set[asyncio.Task] = set()

    # ------------------------------------------------------------ proxy
    async def start_proxy(self, http_options: HTTPOptions) -> dict[str, Any]:
        """Start the HTTP proxy once; later calls report where it listens."""
        self._ensure_loop()
        if self._proxy is not None:
            assert self._http is not None
            return {"host": self._http.host, "port": self._http.port, "started": False}
        from .proxy import ProxyActor

        proxy = (
            rayground.remote(ProxyActor)
            .options(
                name=PROXY_NAME,
                namespace=SERVE_NAMESPACE,
                lifetime="detached",
                num_cpus=0,
                max_concurrency=100_000,
            )
            .remote(http_options)
        )
        try:
            await proxy.start.remote()
        except BaseException:
            rayground.kill(proxy)
            raise
        self._proxy = proxy
        self._http = http_options
        return {"host": http_options.host, "port": http_options.port, "started": True}

    async def http_options(self) -> HTTPOptions | None:
        return self._http

    # ------------------------------------------------------------ applications
    async def deploy_application(
        self, name: str, route_prefix: str | None, ingress: str, specs: list[dict]
    ) -> None:
        self._ensure_loop()
        for other in self._apps.values():
            if (
                other.name != name
                and route_prefix is not None
                and (other.route_prefix == route_prefix)
            ):
                raise RayServeException(  # Ray Serve's type (its controller raises it too)
                    f"Prefix {route_prefix} is being used by application {other.name!r}. "
                    "Give this application another route_prefix, or delete that one first "
                    f"(serve.delete({other.name!r}))."
                )
        old = self._apps.get(name)
        new_names = [spec["name"] for spec in specs]
        if old is not None:
            for dep_name in old.deployments:
                if dep_name not in new_names:
                    self._delete_deployment(self._deployments[deployment_key(name, dep_name)])
        for spec in specs:
            key = deployment_key(name, spec["name"])
            config: DeploymentConfig = spec["config"]
            state = self._deployments.get(key)
            if state is None or state.deleting:
                self._deployments[key] = _DeploymentState(
                    name,
                    spec["name"],
                    spec["blob"],
                    spec["code_version"],
                    config,
                    target=config.initial_target(),
                )
                self._bump(key)
                continue
            state.status, state.message, state.constructor_failures = "UPDATING", "", 0
            lightweight = state.code_version == spec["code_version"] and _same_restart_config(
                state.config, config
            )
            old_user_config = state.config.user_config
            old_auto = state.config.autoscaling_config
            state.config = config
            state.blob = spec["blob"]
            if config.autoscaling_config is None or old_auto is None:
                state.target = config.initial_target()
            else:
                auto = config.autoscaling_config
                state.target = min(max(state.target, auto.min_replicas), auto.max_replicas)
            if lightweight:
                if config.user_config != old_user_config:
                    for record in state.replicas.values():
                        if record.state == "RUNNING":
                            await record.actor.reconfigure.remote(config.user_config)
            else:
                state.code_version = spec["code_version"]  # replicas of the old one are replaced
            self._bump(key)
        self._apps[name] = _AppState(name, route_prefix, ingress, new_names)
        self._bump(ROUTES_KEY)

    async def wait_for_application(self, name: str, timeout_s: float) -> dict[str, Any]:
        """Wait until the application is RUNNING or has failed; its status either way."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            app = self._apps.get(name)
            if app is None:
                return {"status": "NOT_STARTED", "message": f"Application {name!r} is gone."}
            if app.status in ("RUNNING", "DEPLOY_FAILED"):
                return {"status": app.status, "message": app.message}
            await self._wait_change(min(1.0, deadline - time.monotonic()))
        app = self._apps.get(name)
        return {"status": app.status if app else "NOT_STARTED", "message": "timed out"}

    async def delete_applications(self, names: list[str], wait_s: float = 60.0) -> None:
        for name in names:
            app = self._apps.pop(name, None)
            if app is None:
                continue
            for dep_name in app.deployments:
                state = self._deployments.get(deployment_key(name, dep_name))
                if state is not None:
                    self._delete_deployment(state)
        self._bump(ROUTES_KEY)
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and (
            any(s.app_name in names for s in self._deployments.values())
        ):
            await self._wait_change(0.2)

    async def shutdown(self) -> None:
        """Delete every application, stop the proxy; the caller then kills this actor."""
        await self.delete_applications(list(self._apps))
        if self._stopping:
            await asyncio.wait(list(self._stopping), timeout=60)
        if self._proxy is not None:
            with contextlib.suppress(Exception):
                await self._proxy.stop.remote()
            await _kill_and_wait(self._proxy, "stop")
            self._proxy = None
        if self._loop_task is not None:
            self._loop_task.cancel()

    def _delete_deployment(self, state: _DeploymentState) -> None:
        state.deleting = True
        state.target = 0
        state.status = "DELETING"
        self._bump(state.key)

    # ------------------------------------------------------------ long poll
    def _bump(self, key: str) -> None:
        self._versions[key] = self._versions.get(key, 0) + 1
        self._global_version += 1
        if self._changed is not None:
            self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_change(self, timeout_s: float) -> None:
        if self._changed is None:
            self._changed = asyncio.Event()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._changed.wait(), max(0.0, timeout_s))

    async def listen(
        self, known: dict[str, int], global_version: int, timeout_s: float
    ) -> tuple[int, dict[str, dict]]:
        self._ensure_loop()
        if global_version == self._global_version:
            await self._wait_change(timeout_s)
        updates = {
            key: self._snapshot(key)
            for key, version in known.items()
            if self._versions.get(key, 0) != version
        }
        return self._global_version, updates

    async def get_snapshot(self, key: str) -> dict[str, Any]:
        self._ensure_loop()
        return self._snapshot(key)

    def _snapshot(self, key: str) -> dict[str, Any]:
        version = self._versions.get(key, 0)
        if key == ROUTES_KEY:
            routes = {
                app.route_prefix: (app.name, app.ingress)
                for app in self._apps.values()
                if app.route_prefix is not None
            }
            return {"version": version, "exists": True, "routes": routes}
        state = self._deployments.get(key)
        if state is None or (state.deleting and not state.replicas):
            return {"version": version, "exists": False}
        return {
            "version": version,
            "exists": True,
            "replicas": [
                (r.replica_id, r.actor) for r in state.replicas.values() if r.state == "RUNNING"
            ],
            "max_ongoing_requests": state.config.max_ongoing_requests,
            "max_queued_requests": state.config.max_queued_requests,
        }

    # ------------------------------------------------------------ status
    async def get_status(self) -> dict[str, Any]:
        apps = {}
        for app in self._apps.values():
            deployments = {}
            for dep_name in app.deployments:
                state = self._deployments.get(deployment_key(app.name, dep_name))
                if state is None:
                    continue
                counts: dict[str, int] = {}
                for record in state.replicas.values():
                    counts[record.state] = counts.get(record.state, 0) + 1
                deployments[dep_name] = {
                    "status": state.status,
                    "message": state.message,
                    "replica_states": counts,
                    "target_replicas": state.target,
                }
            apps[app.name] = {
                "status": app.status,
                "message": app.message,
                "route_prefix": app.route_prefix,
                "ingress": app.ingress,
                "deployed_at": app.deployed_at,
                "deployments": deployments,
            }
        proxy = "HEALTHY" if self._proxy is not None else None
        http = None
        if self._http is not None:
            http = {"host": self._http.host, "port": self._http.port}
        return {"applications": apps, "proxy": proxy, "http": http}

    async def get_details(self) -> dict[str, Any]:
        """Per-replica load for the live views: ongoing and queued requests, requests/s."""
        out: dict[str, Any] = {}
        for state in list(self._deployments.values()):
            await self._collect_metrics(state)
            out[state.key] = {
                "app": state.app_name,
                "deployment": state.name,
                "status": state.status,
                "target": state.target,
                "requests_per_s": round(state.rate, 2),
                "replicas": [
                    {
                        "replica_id": r.replica_id,
                        "state": r.state,
                        "pid": r.pid,
                        "ongoing": state.load.get(r.replica_id, {}).get("ongoing", 0),
                        "queued": state.load.get(r.replica_id, {}).get("queued", 0),
                    }
                    for r in state.replicas.values()
                ],
            }
        return out

    # ------------------------------------------------------------ control loop
    def _ensure_loop(self) -> None:
        if self._loop_task is None:
            self._loop_task = asyncio.ensure_future(self._control_loop())

    async def _control_loop(self) -> None:
        published: dict[str, Any] | None = None
        next_publish = 0.0
        while True:
            for state in list(self._deployments.values()):
                try:
                    await self._reconcile(state)
                except Exception as exc:  # keep the loop alive; the status says what failed
                    state.message = f"The controller failed to update it: {exc!r}"
            self._update_app_statuses()
            if time.monotonic() >= next_publish:
                next_publish = time.monotonic() + status_hook.PUBLISH_EVERY_S
                published = await self._publish_status(published)
            await asyncio.sleep(_TICK_S)

    async def _publish_status(self, published: dict[str, Any] | None) -> dict[str, Any] | None:
        """The live views' copy (library status board), sent only when it changed."""
        try:
            value = status_hook.entry(await self.get_status(), await self.get_details())
            if value != published:
                status_hook.publish(value)
            return value
        except Exception:  # a view's copy must never stop the control loop
            return published

    async def _reconcile(self, state: _DeploymentState) -> None:
        now = time.monotonic()
        if state.config.autoscaling_config is not None and not state.deleting:
            if now - state.last_metrics >= _METRICS_PERIOD_S:
                await self._collect_metrics(state)
                self._autoscale(state, now)
        current = [
            r
            for r in state.replicas.values()
            if r.code_version == state.code_version and r.state != "STOPPING"
        ]
        outdated = [
            r
            for r in state.replicas.values()
            if r.code_version != state.code_version and r.state != "STOPPING"
        ]
        failed = state.status == "DEPLOY_FAILED"
        # Start what is missing (not after the constructor kept failing).
        if not failed and not state.deleting:
            for _ in range(state.target - len(current)):
                self._start_replica(state)
        # Stop extras of the current version: starting ones first, then the newest.
        extra = len(current) - state.target
        if extra > 0:
            order = sorted(current, key=lambda r: (r.state == "RUNNING", r.started_at))
            for record in order[:extra]:
                self._stop_replica(state, record)
        # Rolling update: an outdated replica stops once a new one runs in its place.
        running_new = sum(1 for r in current if r.state == "RUNNING")
        keep_old = max(0, state.target - running_new) if not failed else len(outdated)
        if state.deleting:
            keep_old = 0
        for record in sorted(outdated, key=lambda r: r.started_at)[: len(outdated) - keep_old]:
            self._stop_replica(state, record)
        # Health checks.
        for record in list(state.replicas.values()):
            if record.state == "RUNNING" and now >= record.next_health_check:
                if record.health_task is None or record.health_task.done():
                    record.next_health_check = now + state.config.health_check_period_s
                    record.health_task = self._spawn(self._health_check(state, record))
        self._report_slow_starts(state)
        if state.deleting and not state.replicas:
            if self._deployments.get(state.key) is state:
                del self._deployments[state.key]
                self._bump(state.key)
            return
        self._update_deployment_status(state, current, outdated)

    def _report_slow_starts(self, state: _DeploymentState) -> None:
        slow = [
            r
            for r in state.replicas.values()
            if r.state == "STARTING" and time.time() - r.started_at > _SLOW_START_S
        ]
        if not slow or state.status == "DEPLOY_FAILED":
            return
        needs = {"CPU": 1.0, **_resources(state.config.ray_actor_options)}
        free = {k: v for k, v in rayground.available_resources().items() if k in needs}
        message = (
            f"{len(slow)} replica(s) have taken more than {_SLOW_START_S:g} s to start. Each "
            f"needs {needs}; the cluster has {free} free (see `rayground status`). Lower the "
            "deployment's ray_actor_options or num_replicas, or give the cluster more resources "
            "(init(num_cpus=...), or `rayground start --head --num-cpus N` and --address auto)."
        )
        if message != state.message:
            state.message = message
            self._bump(f"message:{state.key}")

    def _update_deployment_status(
        self, state: _DeploymentState, current: list, outdated: list
    ) -> None:
        if state.deleting or state.status == "DEPLOY_FAILED":
            return
        running = sum(1 for r in current if r.state == "RUNNING")
        if running == state.target and not outdated:
            if state.status != "HEALTHY":
                state.status, state.message = "HEALTHY", ""
                self._bump(state.key)
        elif state.status == "HEALTHY":
            state.status = "UNHEALTHY" if running < state.target else "UPDATING"

    def _update_app_statuses(self) -> None:
        for app in self._apps.values():
            states = [self._deployments.get(deployment_key(app.name, d)) for d in app.deployments]
            failed = [s for s in states if s is not None and s.status == "DEPLOY_FAILED"]
            if failed:
                status = "DEPLOY_FAILED"
                message = "; ".join(f"Deployment {s.name!r}: {s.message}" for s in failed)
            elif all(
                s is not None and s.status in ("HEALTHY", "UPSCALING", "DOWNSCALING")
                for s in states
            ):
                status, message = "RUNNING", ""
            elif app.status in ("RUNNING", "UNHEALTHY"):
                status, message = "UNHEALTHY", "Some replicas are being replaced."
            else:
                status, message = "DEPLOYING", ""
            if (status, message) != (app.status, app.message):
                app.status, app.message = status, message
                self._bump(f"app:{app.name}")

    # ------------------------------------------------------------ replicas
    def _spawn(self, coro: Any) -> asyncio.Task:
        # The loop keeps only weak references to tasks: hold each until it is done.
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _replica_class(self, state: _DeploymentState) -> Any:
        # Its own class per deployment, so the live views and list_actors() show the
        # deployment by name (ServeReplica:app:Deployment, as in Ray).
        cls = self._actor_classes.get(state.key)
        if cls is None:
            name = f"ServeReplica:{state.app_name}:{state.name}"
            cls = rayground.remote(type(name, (Replica,), {"__qualname__": name}))
            self._actor_classes[state.key] = cls
        return cls

    def _start_replica(self, state: _DeploymentState) -> None:
        replica_id = uuid.uuid4().hex[:8]
        options = dict(state.config.ray_actor_options)
        options.setdefault("num_cpus", 1)
        options.pop("object_store_memory", None)
        options.pop("accelerator_type", None)
        actor = (
            self._replica_class(state)
            .options(
                name=replica_actor_name(state.app_name, state.name, replica_id),
                namespace=SERVE_NAMESPACE,
                lifetime="detached",
                max_concurrency=100_000,
                **options,
            )
            .remote(state.app_name, state.name, replica_id, state.blob, state.config)
        )
        record = _ReplicaRecord(replica_id, actor, state.code_version)
        state.replicas[replica_id] = record
        self._spawn(self._initialize(state, record))

    async def _initialize(self, state: _DeploymentState, record: _ReplicaRecord) -> None:
        try:
            info = await record.actor.initialize.remote()
        except Exception as exc:
            state.replicas.pop(record.replica_id, None)
            with contextlib.suppress(Exception):
                rayground.kill(record.actor)
            if record.state == "STOPPING" or state.deleting:
                return
            state.constructor_failures += 1
            limit = min(state.config.max_constructor_retry_count, 3 * max(1, state.target))
            if state.constructor_failures >= limit and not any(
                r.state == "RUNNING" and r.code_version == state.code_version
                for r in state.replicas.values()
            ):
                state.status = "DEPLOY_FAILED"
                state.message = (
                    f"The deployment failed to start {state.constructor_failures} times in a "
                    f"row. Its constructor or reconfigure() raised:\n{_error_text(exc)}"
                )
                self._bump(state.key)
            return
        if record.state == "STOPPING":
            return
        record.pid = info.get("pid")
        record.state = "RUNNING"
        state.constructor_failures = 0
        record.next_health_check = time.monotonic() + state.config.health_check_period_s
        self._spawn(self._watch(state, record))
        self._bump(state.key)

    async def _watch(self, state: _DeploymentState, record: _ReplicaRecord) -> None:
        """Learn at once that a replica died (killed, crashed): its `watch` call fails."""
        with contextlib.suppress(Exception):
            await record.actor.watch.remote()
        if state.replicas.get(record.replica_id) is record and record.state != "STOPPING":
            state.replicas.pop(record.replica_id, None)
            self._bump(state.key)  # routers stop sending there; the loop starts a new one

    async def _health_check(self, state: _DeploymentState, record: _ReplicaRecord) -> None:
        ref = record.actor.check_health.remote()
        try:
            await asyncio.wait_for(_await_ref(ref), state.config.health_check_timeout_s)
            return
        except Exception:
            pass
        if state.replicas.get(record.replica_id) is record and record.state == "RUNNING":
            state.replicas.pop(record.replica_id, None)
            self._bump(state.key)
            with contextlib.suppress(Exception):
                rayground.kill(record.actor)

    def _stop_replica(self, state: _DeploymentState, record: _ReplicaRecord) -> None:
        was_running = record.state == "RUNNING"
        record.state = "STOPPING"
        if was_running:
            self._bump(state.key)  # routers stop sending before it drains
        task = self._spawn(self._graceful_stop(state, record, was_running))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    async def _graceful_stop(
        self, state: _DeploymentState, record: _ReplicaRecord, was_running: bool
    ) -> None:
        if was_running:
            timeout = state.config.graceful_shutdown_timeout_s
            ref = record.actor.prepare_for_shutdown.remote(
                timeout, state.config.graceful_shutdown_wait_loop_s
            )
            with contextlib.suppress(Exception):
                await asyncio.wait_for(_await_ref(ref), timeout + 1.0)
        await _kill_and_wait(record.actor, "get_metrics")
        state.replicas.pop(record.replica_id, None)
        self._bump(state.key)

    # ------------------------------------------------------------ autoscaling
    async def _collect_metrics(self, state: _DeploymentState) -> None:
        running = [r for r in state.replicas.values() if r.state == "RUNNING"]
        now = time.monotonic()
        state.last_metrics = now
        results = await asyncio.gather(
            *(_await_ref(r.actor.get_metrics.remote()) for r in running), return_exceptions=True
        )
        total = 0
        processed = 0
        load = {}
        for record, result in zip(running, results, strict=True):
            if isinstance(result, BaseException):
                continue
            load[record.replica_id] = result
            total += result["ongoing"] + result["queued"]
            state.processed[record.replica_id] = result["processed"]
        processed = sum(state.processed.values())
        state.load = load
        state.samples.append((now, total))
        then, before = state.rate_at
        if then and now > then:
            state.rate = max(0.0, (processed - before) / (now - then))
        state.rate_at = (now, processed)

    def _autoscale(self, state: _DeploymentState, now: float) -> None:
        auto = state.config.autoscaling_config
        assert auto is not None
        while state.samples and now - state.samples[0][0] > auto.look_back_period_s:
            state.samples.popleft()
        if not state.samples:
            return
        average = sum(total for _, total in state.samples) / len(state.samples)
        desired = math.ceil(average / auto.target_ongoing_requests - 1e-9)
        if desired > state.target and auto.upscaling_factor:
            desired = state.target + math.ceil((desired - state.target) * auto.upscaling_factor)
        if desired < state.target and auto.downscaling_factor:
            desired = state.target - math.ceil((state.target - desired) * auto.downscaling_factor)
        desired = min(max(desired, auto.min_replicas), auto.max_replicas)
        if desired == state.target:
            state.scale_wish = None
            return
        if state.scale_wish is None or (state.scale_wish[0] > state.target) != (
            desired > state.target
        ):
            state.scale_wish = (desired, now)
        delay = auto.upscale_delay_s if desired > state.target else auto.downscale_delay_s
        if now - state.scale_wish[1] >= delay:
            state.status = "UPSCALING" if desired > state.target else "DOWNSCALING"
            state.target = desired
            state.scale_wish = None
            state.samples.clear()
            self._bump(state.key)


def _resources(options: dict[str, Any]) -> dict[str, float]:
    out = {}
    if options.get("num_cpus") is not None:
        out["CPU"] = float(options["num_cpus"])
    if options.get("num_gpus"):
        out["GPU"] = float(options["num_gpus"])
    out.update({k: float(v) for k, v in (options.get("resources") or {}).items()})
    return out


def _same_restart_config(old: DeploymentConfig, new: DeploymentConfig) -> bool:
    """Whether replicas can stay (only user_config or the replica count changed)."""
    keep = ("user_config", "num_replicas", "autoscaling_config", "max_queued_requests")
    return all(
        getattr(old, f) == getattr(new, f) for f in old.__dataclass_fields__ if f not in keep
    )


async def _kill_and_wait(actor: Any, probe: str, timeout_s: float = 30.0) -> None:
    """Kill an actor and return once it is gone: a call sent after the kill fails then (the
    head handles both in order), so nothing of it is left listening or counted as alive."""
    with contextlib.suppress(Exception):
        rayground.kill(actor)
    with contextlib.suppress(Exception):
        await asyncio.wait_for(_await_ref(getattr(actor, probe).remote()), timeout_s)


async def _await_ref(ref: Any) -> Any:
    return await ref


def _error_text(exc: BaseException) -> str:
    text = str(exc)
    return text if text else repr(exc)
