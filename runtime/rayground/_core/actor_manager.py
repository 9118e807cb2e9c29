"""The head's actors: placement on a dedicated worker, ordered calls, restarts, names, death.

    create -> PENDING_CREATION -> (worker runs __init__) -> ALIVE -> DEAD
                                         ^                  |
                                         +-- RESTARTING <---+ (process died, restarts left)

Calls are queued in the order the head received them, even while their ref arguments are
pending, and forwarded to the actor's worker in that order once those are ready, so one caller's
calls run in submission order. Calls a caller sends straight to the worker (direct_calls.py) are
registered here as running. The worker decides concurrency (one at a time, a thread pool, or an
asyncio loop).
"""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any

from .. import exceptions
from . import ids, protocol
from .direct_calls import ACTOR_AT
from .resources import format_request
from .runtime_env import worker_key

# How long a worker told to die (KILL_WORKER) gets to send its reports before it is SIGKILLed;
# its I/O thread answers within a switch interval unless a call holds the GIL in C code.
STOP_GRACE_S = 0.5

if TYPE_CHECKING:
    from .head import Head, Peer
    from .task_table import Task
    from .worker_pool import WorkerProc


class Actor:
    __slots__ = (
        "calls_done",
        "class_name",
        "creation",
        "death_cause",
        "detached",
        "gpu_ids",
        "handle_gone",
        "holding",
        "id",
        "inflight",
        "job_id",
        "left_by",
        "max_task_retries",
        "name",
        "namespace",
        "no_restart",
        "node",
        "num_restarts",
        "owner",
        "queue",
        "resources",
        "restarts_left",
        "spec",
        "start_time",
        "state",
        "worker",
    )

    def __init__(self, spec: dict[str, Any], owner: str) -> None:
        self.id: str = spec["actor_id"]
        self.spec = spec
        self.owner = owner
        self.name: str | None = spec.get("name")
        self.namespace: str | None = spec.get("namespace")
        self.class_name: str = spec.get("class_name", "Actor")
        self.job_id: str | None = spec.get("job_id")
        self.detached = spec.get("lifetime") == "detached"
        self.resources: dict[str, float] = spec.get("resources") or {}
        self.restarts_left: int = spec.get("max_restarts", 0)
        self.max_task_retries: int = spec.get("max_task_retries", 0)
        self.state = "PENDING_CREATION"
        self.worker: WorkerProc | None = None
        self.queue: collections.deque = collections.deque()
        self.inflight: dict[str, Task] = {}
        self.gpu_ids: list[str] = []
        self.holding = False
        self.node: Any = None  # the Node whose resources it holds
        self.death_cause: str | None = None
        self.no_restart = False
        self.num_restarts = 0
        self.creation: Task | None = None
        self.start_time = time.time()
        self.calls_done = 0
        self.handle_gone = False
        # caller -> how many of its calls left the queue (forwarded or dropped): a caller may
        # call directly once this matches what it sent through the head (direct_calls.py).
        self.left_by: dict[str, int] = {}


class ActorManager:
    def __init__(self, head: Head) -> None:
        self.head = head
        self.actors: dict[str, Actor] = {}
        self.named: dict[tuple[str | None, str], str] = {}
        self.waiting_for_resources: collections.deque[Actor] = collections.deque()
        # Workers told to send their reports and die (_stop_worker): when to SIGKILL them.
        self.stopping: dict[WorkerProc, float] = {}
        head.objects.on_free = self._on_object_freed

    # ------------------------------------------------------------ creation
    def create(self, peer: Peer, spec: dict[str, Any]) -> dict[str, Any]:
        head = self.head
        name = spec.get("name")
        if name:
            key = (spec.get("namespace"), name)
            existing_id = self.named.get(key)
            if existing_id is not None:
                existing = self.actors[existing_id]
                if existing.state != "DEAD":
                    if spec.get("get_if_exists"):
                        return {"actor_id": existing.id, "existing": True, **existing.spec["meta"]}
                    raise exceptions.ActorAlreadyExistsError(
                        f"An actor named {name!r} already exists in namespace "
                        f"{spec.get('namespace')!r}. Use get_actor({name!r}) to reach it, "
                        "options(get_if_exists=True) to reuse it, or another name."
                    )
        blob = spec.pop("fn_blob", None)
        if blob is not None:
            head.fn_blobs[spec["fn_id"]] = blob
        actor = Actor(spec, peer.client_id)
        self.actors[actor.id] = actor
        handle_id = spec.get("handle_id")
        if handle_id:
            head.objects.expect(handle_id, peer.client_id, None)
            head.objects.seal(handle_id, ("i", b""), [])
        if name:
            self.named[(actor.namespace, name)] = actor.id
        for oid in spec.get("deps", ()):
            head.objects.pin(oid)
        for oid in spec.get("contained", ()):
            head.objects.pin(oid)
        args = spec.get("args")
        if args is not None and args[0] in ("s", "f"):  # "f": written to disk, memory was full
            head.objects.seal(
                args[1].rpartition("/")[2],
                args,
                [],
                holder=f"actor:{actor.id}",
                node=head.node_of(peer).id,
            )
        head.events.emit(
            "actor", actor.id, "PENDING_CREATION", {"class_name": actor.class_name, "name": name}
        )
        if not spec.get("placement_group") and not head.nodes.feasible(actor.resources):
            missing = head.nodes.missing_for(actor.resources)
            head.warn(
                peer.client_id,
                f"Actor {actor.class_name} asks for {format_request(actor.resources)} but no node "
                f"has {format_request(missing)}; it will wait until such a node joins. Lower "
                "num_cpus/num_gpus/resources in its options.",
            )
        group = spec.get("placement_group")
        if group and head.placement.groups.removed(group.get("id")):
            self._die(actor, "Its placement group was removed before it was created.", True)
            return {"actor_id": actor.id, "existing": False}
        self.waiting_for_resources.append(actor)
        self.place_waiting()
        return {"actor_id": actor.id, "existing": False}

    def place_waiting(self) -> None:
        head = self.head
        remaining: collections.deque[Actor] = collections.deque()
        while self.waiting_for_resources:
            actor = self.waiting_for_resources.popleft()
            if actor.state == "DEAD":
                continue
            fitting = [] if self._deps_pending(actor) else head.nodes.fitting(actor.resources)
            if fitting and ("node_affinity" in actor.spec or "strategy" in actor.spec):
                fitting = head.nodes.by_strategy(fitting, actor.spec)
            if not fitting:
                remaining.append(actor)
                continue
            actor.node = fitting[0]
            actor.gpu_ids = actor.node.resources.acquire(actor.resources)
            actor.holding = True
            self._start_worker(actor)
        self.waiting_for_resources = remaining

    def _deps_pending(self, actor: Actor) -> bool:
        for oid in actor.spec.get("deps", ()):
            obj = self.head.objects.get(oid)
            if obj is None or obj.desc is None:
                return True
        return False

    def _start_worker(self, actor: Actor) -> None:
        pool = actor.node.pool
        key = worker_key(actor.spec.get("runtime_env"))
        worker = pool.take_idle(key)
        if worker is None:
            worker = pool.spawn()
            worker.env_key = key
        worker.state = "actor"
        worker.actor_id = actor.id
        actor.worker = worker
        if worker.peer is not None:
            self.on_worker_ready(worker)

    def on_worker_ready(self, worker: WorkerProc) -> None:
        actor = self.actors.get(worker.actor_id or "")
        if actor is None or actor.state == "DEAD":
            worker.node.pool.kill(worker)
            return
        worker.state = "actor"
        spec = dict(actor.spec)
        spec["kind"] = "actor_create"
        # The copy's task name (the actor's own `name` stays in actor.spec).
        spec["name"] = f"{actor.class_name.rsplit('.', 1)[-1]}.__init__"
        spec["actor_name"] = actor.name or ""  # get_runtime_context().get_actor_name()
        spec["task_id"] = f"{actor.id}-init{actor.num_restarts}"
        spec["returns"] = []
        spec["gpu_ids"] = actor.gpu_ids
        creation_peer = self.head.peers.get(actor.owner)
        from .task_table import Task

        task = Task(spec, actor.owner if creation_peer else "")
        task.actor_id = None  # a creation task is tracked by the actor, not by the call queue
        task.gpu_ids = actor.gpu_ids  # its CUDA_VISIBLE_DEVICES, kept for the actor's life
        actor.creation = task
        self.head.tasks.tasks[task.id] = task
        self.head.tasks.dispatch_to_actor_worker(task, worker)

    def creation_done(self, actor: Actor, ok: bool, error: str | None) -> None:
        head = self.head
        if not ok:
            self._die(
                actor,
                f"The actor died because of an error raised in its creation task (__init__):"
                f"\n{error}",
                no_restart=True,
            )
            return
        actor.state = "ALIVE"
        head.events.emit(
            "actor",
            actor.id,
            "ALIVE",
            {"pid": actor.worker.pid if actor.worker else None, "restarts": actor.num_restarts},
        )
        self._forward(actor)

    # ------------------------------------------------------------ calls
    def submit_call(self, peer: Peer, spec: dict[str, Any]) -> None:
        head = self.head
        task = head.tasks.submit(peer, spec)
        actor = self.actors.get(spec["actor_id"])
        if actor is None or actor.state == "DEAD":
            cause = actor.death_cause if actor is not None else "it does not exist in this cluster"
            head.tasks._fail(task, self._died_error(actor, spec["actor_id"], cause))

    def call_ready(self, task: Task, front: bool = False) -> None:
        actor = self.actors.get(task.actor_id or "")
        if actor is None or actor.state == "DEAD":
            if task.state not in ("FINISHED", "FAILED"):
                cause = actor.death_cause if actor else "it does not exist"
                self.head.tasks._fail(task, self._died_error(actor, task.actor_id or "", cause))
            return
        if task.attempt == 0 and task.spec.get("direct_worker") is not None:
            self._accept_direct(actor, task)
            return
        if not task.deps_missing:
            task.state = "PENDING_NODE_ASSIGNMENT"
        if front:
            self.queue_front(actor, task)
        else:
            actor.queue.append(task)
        self._forward(actor)

    def args_ready(self, task: Task) -> None:
        """A queued call's ref arguments are all ready: it may go once the calls before it do."""
        task.state = "PENDING_NODE_ASSIGNMENT"
        actor = self.actors.get(task.actor_id or "")
        if actor is not None:
            self._forward(actor)

    def _accept_direct(self, actor: Actor, task: Task) -> None:
        """A caller sent this call straight to the worker `direct_worker` (direct_calls.py)."""
        tasks = self.head.tasks
        task.attempt = 1
        early = tasks.early_reports.pop(task.id, None)
        worker = actor.worker
        if early is not None:
            worker = early[0]  # it ended before we heard of it
        elif (
            worker is None
            or worker.id != task.spec["direct_worker"]
            or actor.state != "ALIVE"
            or worker.state == "dead"
        ):
            # The worker it was sent to died without reporting it: it did not run to the end.
            if self._retry_after_death(actor, task):
                tasks._retry(task, "the actor's process it was sent to died")
            else:
                cause = actor.death_cause or "the actor's process it was sent to died"
                if actor.state == "DEAD":
                    tasks._fail(task, self._died_error(actor, actor.id, cause))
                else:  # restarting, or back already: this call is lost, the actor is not
                    tasks._fail(task, self._unavailable_error(actor, cause))
            return
        actor.inflight[task.id] = task
        task.worker = worker
        task.gpu_ids = actor.gpu_ids
        tasks.mark_running(task, worker)
        if early is not None:
            tasks.apply_early(task, early)

    def queue_front(self, actor: Actor, task: Task) -> None:
        actor.queue.appendleft(task)

    def _left_queue(self, actor: Actor, task: Task) -> None:
        if task.attempt == 0:  # counted once, the first time it leaves
            actor.left_by[task.owner] = actor.left_by.get(task.owner, 0) + 1

    def _forward(self, actor: Actor) -> None:
        if actor.state != "ALIVE" or actor.worker is None or actor.worker.peer is None:
            return
        tasks = self.head.tasks
        callers = set()
        while actor.queue:
            task = actor.queue[0]
            if task.cancelled or task.state in ("FINISHED", "FAILED"):
                actor.queue.popleft()
                self._left_queue(actor, task)
                continue
            if task.deps_missing:
                break
            actor.queue.popleft()
            self._left_queue(actor, task)
            callers.add(task.owner)
            actor.inflight[task.id] = task
            task.worker = actor.worker
            task.attempt += 1
            task.gpu_ids = actor.gpu_ids  # get_gpu_ids() in a method: the actor's devices
            tasks.dispatch_to_actor_worker(task, actor.worker)
        if callers and actor.worker.direct_address:
            self._tell_route(actor, callers)

    def _tell_route(self, actor: Actor, callers: set[str]) -> None:
        """Tell callers on the actor's machine where its worker takes direct calls, and how
        many of their calls have left the head's queue."""
        head = self.head
        worker = actor.worker
        assert worker is not None
        for owner in callers:
            peer = head.peers.get(owner)
            if peer is None or head.node_of(peer) is not worker.node:
                continue
            notice = (ACTOR_AT, actor.id, worker.direct_address, worker.id, actor.left_by[owner])
            head.notice_after(peer, notice, worker)

    def call_finished(self, task: Task) -> None:
        actor = self.actors.get(task.actor_id or "")
        if actor is not None:
            actor.inflight.pop(task.id, None)
            actor.calls_done += 1
            if actor.handle_gone and not actor.queue and not actor.inflight:
                self._end_unreferenced(actor)

    def _on_object_freed(self, oid: str) -> None:
        if not oid.endswith(".h"):
            return
        actor = self.actors.get(oid[:-2])
        if actor is None or actor.detached or actor.name or actor.state == "DEAD":
            return
        actor.handle_gone = True
        if not actor.queue and not actor.inflight:
            self._end_unreferenced(actor)

    def _end_unreferenced(self, actor: Actor) -> None:
        actor.no_restart = True
        actor.death_cause = "All handles to the actor were dropped, so it was ended."
        if actor.worker is not None and actor.worker.state != "dead":
            self._stop_worker(actor.worker)
        else:
            self._die(actor, actor.death_cause, no_restart=True)

    def drop_queued(self, task: Task) -> None:
        actor = self.actors.get(task.actor_id or "")
        if actor is not None and task in actor.queue:
            actor.queue.remove(task)
            self._left_queue(actor, task)

    # ------------------------------------------------------------ death and restarts
    def _stop_worker(self, worker: WorkerProc) -> None:
        """End an actor's worker. One that takes direct calls may have answered calls whose
        `done` (bookkeeping, within ~2 ms) it has not sent yet: a SIGKILL now would make the
        head fail calls whose callers already have their results (and tell borrowers so). It is
        told to send what it holds and die; `periodic` SIGKILLs it after STOP_GRACE_S if it
        cannot (a call holding the GIL), and its last frames are read before its death is
        handled (TaskTable.on_worker_died)."""
        if worker.state == "dead" or worker in self.stopping:
            return
        if worker.direct_address is None or worker.peer is None:
            worker.node.pool.kill(worker)
            return
        self.stopping[worker] = time.monotonic() + STOP_GRACE_S
        self.head._send(worker.peer, (protocol.KILL_WORKER,))

    def periodic(self, now: float) -> None:
        for worker, deadline in list(self.stopping.items()):
            if worker.state == "dead":
                del self.stopping[worker]
            elif now >= deadline:
                del self.stopping[worker]
                worker.node.pool.kill(worker)

    def kill(self, actor_id: str, no_restart: bool) -> None:
        actor = self.actors.get(actor_id)
        if actor is None or actor.state == "DEAD":
            return
        if no_restart:
            actor.no_restart = True
        if actor.worker is not None and actor.worker.state != "dead":
            self._stop_worker(actor.worker)
        elif no_restart:
            self._die(
                actor, "The actor was killed by ray.kill() before it started.", no_restart=True
            )

    def exit_requested(self, actor_id: str) -> None:
        actor = self.actors.get(actor_id)
        if actor is not None:
            actor.no_restart = True
            actor.death_cause = "The actor exited by calling exit_actor()."

    def on_worker_died(self, worker: WorkerProc, exit_code: int | None) -> None:
        self.stopping.pop(worker, None)
        actor = self.actors.get(worker.actor_id or "")
        if actor is None or actor.state == "DEAD":
            return
        from .task_table import _exit_text

        actor.worker = None
        if actor.creation is not None and actor.creation.state not in ("FINISHED", "FAILED"):
            actor.creation.state = "FAILED"
        cause = actor.death_cause or (
            "The actor was killed by ray.kill()."
            if actor.no_restart
            else f"The actor's process (pid {worker.pid}) died: {_exit_text(exit_code)}."
        )
        if actor.no_restart or actor.restarts_left == 0:
            self._die(actor, cause, no_restart=True)
            return
        if actor.restarts_left > 0:
            actor.restarts_left -= 1
        actor.num_restarts += 1
        actor.state = "RESTARTING"
        self.head.events.emit("actor", actor.id, "RESTARTING", {"cause": cause})
        inflight = list(actor.inflight.values())
        actor.inflight.clear()
        for task in reversed(inflight):
            if self._retry_after_death(actor, task):
                task.state = "PENDING_NODE_ASSIGNMENT"
                self.head.tasks.undirect(task)
                actor.queue.appendleft(task)
            else:
                self.head.tasks._fail(task, self._unavailable_error(actor, cause))
        if actor.node is None or actor.node.state != "ALIVE":
            # Its node is gone: place it again wherever its resources fit now.
            actor.holding = False
            self.waiting_for_resources.append(actor)
            self.place_waiting()
            return
        self._start_worker(actor)

    @staticmethod
    def _retry_after_death(actor: Actor, task: Task) -> bool:
        """Whether a call lost with its actor's process runs again (using up one retry)."""
        if actor.max_task_retries == 0 or task.retries_left == 0:
            return False
        if actor.max_task_retries > 0:
            task.retries_left = min(task.retries_left, actor.max_task_retries) - 1
        return True

    def _die(self, actor: Actor, cause: str, no_restart: bool) -> None:
        head = self.head
        actor.state = "DEAD"
        actor.death_cause = cause
        if actor.holding:
            actor.node.resources.release(actor.resources, actor.gpu_ids)
            actor.holding = False
        if actor.worker is not None and actor.worker.state != "dead":
            actor.worker.node.pool.kill(actor.worker)
        pending = list(actor.inflight.values()) + list(actor.queue)
        actor.inflight.clear()
        actor.queue.clear()
        for task in pending:
            head.tasks._fail(task, self._died_error(actor, actor.id, cause))
        if actor.name and self.named.get((actor.namespace, actor.name)) == actor.id:
            del self.named[(actor.namespace, actor.name)]
        for oid in actor.spec.get("deps", ()):
            head.objects.unpin(oid)
        for oid in actor.spec.get("contained", ()):
            head.objects.unpin(oid)
        args = actor.spec.get("args")
        if args is not None and args[0] in ("s", "f"):
            head.objects.decref(f"actor:{actor.id}", [args[1].rpartition("/")[2]])
        head.events.emit("actor", actor.id, "DEAD", {"cause": cause.splitlines()[0]})

    @staticmethod
    def _unavailable_error(actor: Actor, cause: str) -> BaseException:
        """A call lost with the actor's process while the actor restarts: as in Ray, not a
        death (calls made after the restart run); the caller may call again."""
        shown = ids.to_hex(actor.id)
        return exceptions.ActorUnavailableError(
            f"The actor {actor.class_name} ({shown}) is unavailable: it is restarting, and this "
            f"call was running when its process died ({cause}). Calls made now run once it is "
            "back; call again if the call is safe to repeat, or set max_task_retries to have "
            "it retried for you.",
            actor_id=shown,
        )

    def _died_error(self, actor: Actor | None, actor_id: str, cause: str | None) -> BaseException:
        name = actor.class_name if actor is not None else "actor"
        shown = ids.to_hex(actor_id)
        return exceptions.ActorDiedError(
            f"The actor {name} ({shown}) is dead, so this call cannot run. Cause: {cause}",
            actor_id=shown,
        )

    def end_for_placement_group(self, actor: Actor, cause: str) -> None:
        """Its placement group was removed: it dies for good, as in Ray."""
        actor.no_restart = True
        actor.death_cause = cause
        if actor.worker is not None:
            self._stop_worker(actor.worker)
        else:
            self._die(actor, cause, no_restart=True)

    def on_job_exit(self, job_id: str) -> None:
        for actor in list(self.actors.values()):
            if actor.job_id == job_id and not actor.detached and actor.state != "DEAD":
                actor.no_restart = True
                actor.death_cause = "The driver that created this actor exited."
                if actor.worker is not None:
                    self._stop_worker(actor.worker)
                else:
                    self._die(actor, actor.death_cause, no_restart=True)

    def lookup(self, name: str, namespace: str | None) -> Actor:
        actor_id = self.named.get((namespace, name))
        actor = self.actors.get(actor_id or "")
        if actor is None or actor.state == "DEAD":
            raise ValueError(
                f"Failed to look up actor with name {name!r} in namespace {namespace!r}. "
                "It was never created, was killed, or lives in another namespace: pass "
                "namespace=... to get_actor, or check the name with "
                "rayground.util.state.list_actors()."
            )
        return actor

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "actor_id": a.id,
                "class_name": a.class_name,
                "name": a.name or "",
                "namespace": a.namespace,
                "state": a.state,
                "pid": a.worker.pid if a.worker else None,
                "job_id": a.job_id,
                "is_detached": a.detached,
                "num_restarts": a.num_restarts,
                "death_cause": a.death_cause,
                "calls_done": a.calls_done,
                "calls_queued": len(a.queue) + len(a.inflight),
                "required_resources": a.resources,
                "start_time": a.start_time,
            }
            for a in self.actors.values()
        ]
