"""The head's tasks: dependencies, the ready queue, placement on workers, retries and cancellation.

A task moves through Ray's states:

    PENDING_ARGS_AVAIL -> PENDING_NODE_ASSIGNMENT -> RUNNING -> FINISHED | FAILED
       (refs not ready)     (waiting for CPU/GPU/        (on a worker)
                             custom resources or a worker)

Ready tasks wait in one FIFO per resource shape, so a task that cannot fit (two CPUs, a GPU)
never holds back small tasks behind it. A worker blocked in `get` gives its resources back until
it resumes, which is what lets tasks wait on tasks they submitted without deadlock.
"""

from __future__ import annotations

import collections
import time
from typing import TYPE_CHECKING, Any

from .. import exceptions
from . import config, ids, protocol
from .resources import format_request
from .runtime_env import worker_key

# A busy worker gets this many tasks queued behind its current one when their function's latest
# run took under _SHORT_TASK_S; otherwise one (see TaskTable._prefetch).
_PREFETCH_SHORT = 8
_SHORT_TASK_S = 0.002
# Reports of direct actor calls that came before the caller's registration (direct_calls.py):
# they wait for it, within this bound.
_EARLY_REPORTS_MAX = 10_000

if TYPE_CHECKING:
    from .head import Head, Peer
    from .worker_pool import WorkerProc


class Task:
    __slots__ = (
        "actor_id",
        "attempt",
        "cancelled",
        "children",
        "deps_missing",
        "error",
        "gen_items",
        "gpu_ids",
        "holding",
        "id",
        "infeasible",
        "job_id",
        "name",
        "node",
        "owner",
        "parent",
        "ran_on",
        "resources",
        "retries_left",
        "returns",
        "spec",
        "state",
        "times",
        "worker",
    )

    def __init__(self, spec: dict[str, Any], owner: str) -> None:
        self.id: str = spec["task_id"]
        self.spec = spec
        self.owner = owner
        self.name: str = spec.get("name", "?")
        self.job_id: str | None = spec.get("job_id")
        self.actor_id: str | None = spec.get("actor_id")
        self.parent: str | None = spec.get("parent_task_id")
        self.resources: dict[str, float] = spec.get("resources") or {}
        retries = spec.get("max_retries", config.DEFAULT_MAX_RETRIES)
        self.retries_left: int = 0 if retries is None else retries
        self.returns: list[str] = spec["returns"]
        self.state = "PENDING_ARGS_AVAIL"
        self.times: dict[str, float] = {"PENDING_ARGS_AVAIL": time.time()}
        self.deps_missing = 0
        self.worker: WorkerProc | None = None
        self.node: Any = None  # the Node whose resources it holds (or last held)
        self.gpu_ids: list[str] = []
        self.holding = False
        self.infeasible = False
        self.children: list[str] = []
        self.attempt = 0
        self.cancelled = False
        self.error: str | None = None
        self.gen_items = 0
        self.ran_on: tuple[str, int] | None = None  # (worker id, pid) of the latest attempt


# What a finished task's spec keeps when lineage cannot need it (head_requests.task_row reads
# these; everything else about it is in the Task's own fields).
_KEPT_WHEN_FINISHED = ("kind", "deps", "actor_id")


class TaskTable:
    def __init__(self, head: Head) -> None:
        self.head = head
        self.tasks: dict[str, Task] = {}
        self.ready: dict[tuple, collections.deque] = {}
        self.waiting_on: dict[str, list[Task]] = {}
        self.finished: collections.deque = collections.deque()
        self.num_queued = 0
        self.num_starting = 0
        # Whether each function's latest run was short (fn id -> bool): deeper prefetch.
        self._short_fns: dict[str | None, bool] = {}
        # task id -> (worker, message): a direct call's end, seen before its registration.
        self.early_reports: dict[str, tuple] = {}

    # ------------------------------------------------------------ submission
    def submit(self, peer: Peer, spec: dict[str, Any]) -> Task:
        head = self.head
        task = Task(spec, peer.client_id)
        self.tasks[task.id] = task
        if task.actor_id is not None and spec.get("max_retries") is None:
            actor = head.actors.actors.get(task.actor_id)  # None: the actor's own setting
            task.retries_left = actor.max_task_retries if actor is not None else 0
        blob = spec.pop("fn_blob", None)
        if blob is not None:
            head.fn_blobs[spec["fn_id"]] = blob
        direct = spec.get("direct_worker") is not None  # its results go to the caller directly
        for oid in task.returns:
            head.objects.expect(oid, peer.client_id, task.id)
            if not direct:
                head.objects.want(peer.client_id, oid)
        args = spec.get("args")
        if args is not None and args[0] in ("s", "f"):  # "f": written to disk, memory was full
            head.objects.seal(
                args[1].rpartition("/")[2],
                args,
                [],
                holder=f"task:{task.id}",
                node=head.node_of(peer).id,
            )
        for oid in spec.get("contained", ()):
            head.objects.pin(oid)
        parent = self.tasks.get(task.parent) if task.parent else None
        if parent is not None:
            parent.children.append(task.id)
        # What a subscriber needs to draw the task without asking for its row (the notebook's
        # live DAG, the lab panel), and the parent, to show a nested task's output in its cell.
        sent_at = spec.pop("sent_at", None)  # a direct call, registered after it was sent
        self._emit(
            task,
            "PENDING_ARGS_AVAIL",
            {
                "name": task.name,
                "deps": spec.get("deps") or [],
                "parent": task.parent,
                "actor_id": task.actor_id,
            },
            sent_at if direct and type(sent_at) is float else None,
        )
        for oid in spec.get("deps", ()):
            head.objects.pin(oid)
            obj = head.objects.get(oid)
            if obj is None:
                self._fail(
                    task,
                    exceptions.ObjectLostError(
                        ids.to_hex(oid),
                        f"Argument {ids.to_hex(oid)} of {task.name} was freed before the task ran.",
                    ),
                )
                return task
            if obj.desc is None:
                task.deps_missing += 1
                self.waiting_on.setdefault(oid, []).append(task)
        if task.actor_id is None and not spec.get("placement_group"):
            # (a placement group's bundles may not be placed yet: its own status says why)
            if not head.nodes.feasible(task.resources):
                task.infeasible = True
                missing = head.nodes.missing_for(task.resources)
                head.warn(
                    peer.client_id,
                    f"Task {task.name} asks for {format_request(task.resources)} but no node "
                    f"has {format_request(missing)} (the cluster has "
                    f"{format_request(head.nodes.total)} in total). It will wait until a "
                    "node with those resources joins. Lower the request, or start the cluster "
                    "with more (e.g. init(num_gpus=1), or resources={...}).",
                )
        affinity = spec.get("node_affinity")
        if affinity and not affinity[1] and not _alive(head, affinity[0]):
            self._fail(
                task,
                exceptions.TaskUnschedulableError(
                    f"The node specified via NodeAffinitySchedulingStrategy ({affinity[0]}) "
                    "doesn't exist any more or is infeasible, and soft=False was specified. "
                    "Pass soft=True to run elsewhere when it is gone."
                ),
            )
            return task
        group = spec.get("placement_group")
        if group and head.placement.groups.removed(group.get("id")):
            self._fail(task, exceptions.TaskPlacementGroupRemoved())
            return task
        if task.actor_id is not None:
            # Into the actor's queue now, even while its arguments are pending: calls after it
            # wait for it, so one caller's calls run in the order they were made.
            head.actors.call_ready(task)
        elif task.deps_missing == 0:
            self._deps_resolved(task)
        return task

    def _deps_resolved(self, task: Task) -> None:
        if task.actor_id is not None:
            self.head.actors.args_ready(task)
            return
        self._enqueue(task)

    def _enqueue(self, task: Task) -> None:
        task.state = "PENDING_NODE_ASSIGNMENT"
        self._emit(task, task.state)
        shape = tuple(sorted(task.resources.items()))
        queue = self.ready.get(shape)
        if queue is None:
            queue = self.ready[shape] = collections.deque()
        queue.append(task)
        self.num_queued += 1

    def object_ready(self, oid: str) -> None:
        waiting = self.waiting_on.pop(oid, None)
        if not waiting:
            return
        for task in waiting:
            task.deps_missing -= 1
            if task.deps_missing == 0 and not task.cancelled:
                self._deps_resolved(task)

    # ------------------------------------------------------------ placement
    def schedule(self) -> None:
        head = self.head
        if head.placement.pending:
            head.placement.schedule()
        if head.actors.waiting_for_resources:
            head.actors.place_waiting()
        if not self.num_queued:
            return
        nodes = head.nodes
        for shape, queue in list(self.ready.items()):
            while queue:
                task = queue[0]
                if task.state != "PENDING_NODE_ASSIGNMENT":
                    queue.popleft()
                    self.num_queued -= 1
                    continue
                fitting = nodes.fitting(task.resources, self._preferred_node(task))
                if "node_affinity" in task.spec or "strategy" in task.spec:
                    fitting = nodes.by_strategy(fitting, task.spec)
                if not fitting:
                    if self._prefetch(task):
                        queue.popleft()
                        self.num_queued -= 1
                        continue
                    break
                worker = fitting[0].pool.take_idle(worker_key(task.spec.get("runtime_env")))
                if worker is None:
                    self._maybe_spawn(task, fitting[0])
                    break
                queue.popleft()
                self.num_queued -= 1
                self.dispatch(task, worker)
            if not queue:
                del self.ready[shape]

    def _preferred_node(self, task: Task) -> Any:
        """The node that holds most of the task's large arguments, if that is not the head's
        (locality is worth preferring only when it is free: `fitting` still falls back)."""
        nodes = self.head.nodes
        if len(nodes.by_id) == 1:
            return None
        weight: dict[Any, int] = {}
        for oid in task.spec.get("deps", ()):
            obj = self.head.objects.get(oid)
            if obj is not None and obj.node is not None and obj.desc and obj.desc[0] == "s":
                weight[obj.node] = weight.get(obj.node, 0) + obj.size
        if not weight:
            return None
        return nodes.by_id.get(max(weight, key=weight.__getitem__))

    def _prefetch(self, task: Task) -> bool:
        """Queue `task` on a busy worker running a task of the same shape, to start the moment
        that one ends (it inherits the resources then): the worker never idles waiting for a
        round trip through the head, which is what tiny tasks mostly cost. A function whose
        last run was short gets several queued per worker, so a worker reads them in one
        message and reports them in one (see Worker._send_done). A worker that is about to
        block in get() hands its queued tasks back (RETURN), so this cannot deadlock."""
        if task.resources.get("GPU") or task.spec.get("generator"):
            return False
        if task.spec.get("node_affinity"):
            return False  # (a busy worker of the same shape may be on another node)
        candidates = self._prefetch_candidates
        env_key = worker_key(task.spec.get("runtime_env"))
        depth = _PREFETCH_SHORT if self._short_fns.get(task.spec.get("fn_id")) else 1
        chosen = None
        for worker in candidates:
            current = worker.task
            if (
                len(worker.queued) < depth
                and worker.state == "busy"
                and not worker.blocked
                and current is not None
                and current.resources == task.resources
                and worker.env_key == env_key
                and (chosen is None or len(worker.queued) < len(chosen.queued))
            ):
                chosen = worker
                if not worker.queued:
                    break
        # Only under a backlog, deeper the larger it is: with few tasks waiting, a task queued
        # behind a long one would wait for it although another worker frees up first.
        if chosen is None or self.num_queued <= len(candidates) * (len(chosen.queued) + 1):
            return False
        chosen.queued.append(task)
        task.worker = chosen
        task.state = "SUBMITTED_TO_WORKER"
        self._send_execute(task, chosen, "SUBMITTED_TO_WORKER")
        return True

    @property
    def _prefetch_candidates(self) -> list[WorkerProc]:
        return [w for w in self.head.nodes.workers() if w.state == "busy"]

    def _promote_next(self, worker: WorkerProc) -> bool:
        """The worker finished its task: its next queued one is running now. True if it had one."""
        queued = worker.queued
        while queued:
            task = queued.popleft()
            if task.state == "SUBMITTED_TO_WORKER":  # not cancelled or returned meanwhile
                break
        else:
            return False
        task.node = worker.node
        task.gpu_ids = task.node.resources.acquire(task.resources)
        task.holding = True
        task.attempt += 1
        worker.task = task
        task.ran_on = (worker.id, worker.pid)
        task.state = "RUNNING"
        self._emit(task, "RUNNING", worker.event_info)
        return True

    def on_returned(self, worker: WorkerProc, task_ids: list[str]) -> None:
        """A worker about to block handed back tasks queued on it: schedule them elsewhere."""
        for task_id in task_ids:
            task = self.tasks.get(task_id)
            if task is None or task.state != "SUBMITTED_TO_WORKER" or task.worker is not worker:
                continue
            _unqueue(worker, task)
            task.worker = None
            self._enqueue(task)

    def _maybe_spawn(self, task: Task, node: Any) -> None:
        # Called only when the task's resources are free right now but no worker is idle, so the
        # resources bound how many run; the cap only stops runaway zero-CPU work.
        pool = node.pool
        blocked = sum(1 for w in pool.workers.values() if w.blocked)
        active = sum(1 for w in pool.workers.values() if w.state in ("busy", "idle", "starting"))
        limit = max(32, 4 * int(node.resources.total.get("CPU", 1))) + blocked
        if active < limit and self.num_starting < self.num_queued:
            pool.spawn()
            self.num_starting += 1

    def dispatch(self, task: Task, worker: WorkerProc) -> None:
        task.node = worker.node
        task.gpu_ids = worker.node.resources.acquire(task.resources)
        task.holding = True
        task.worker = worker
        task.attempt += 1
        worker.state = "busy"
        worker.task = task
        self._send_execute(task, worker)

    def dispatch_to_actor_worker(self, task: Task, worker: WorkerProc) -> None:
        task.worker = worker
        self._send_execute(task, worker)

    def _creation_finished(self, task: Task, ok: bool, error: str | None) -> bool:
        if task.spec.get("kind") != "actor_create":
            return False
        actor = self.head.actors.actors.get(task.spec["actor_id"])
        self._finish(task, "FINISHED" if ok else "FAILED")
        if actor is not None and actor.creation is task:
            self.head.actors.creation_done(actor, ok, error)
        return True

    def _send_execute(self, task: Task, worker: WorkerProc, state: str = "RUNNING") -> None:
        head = self.head
        spec = task.spec
        fn_id = spec.get("fn_id")
        blob = None
        if fn_id is not None and fn_id not in worker.fns:
            blob = head.fn_blobs.get(fn_id)
            worker.fns.add(fn_id)
        job_info = None
        if task.job_id not in worker.jobs:
            worker.jobs.add(task.job_id)
            job = None if task.job_id is None else head.jobs.get(task.job_id)
            if job is not None:
                job_info = {k: job[k] for k in ("sys_path", "cwd", "env_vars", "namespace")}
        arg_descs = {}
        for oid in spec.get("deps", ()):
            obj = head.objects.get(oid)
            if obj is not None and obj.desc is not None:
                arg_descs[oid] = obj.desc
                obj.last_access = time.monotonic()
        spec["gpu_ids"] = task.gpu_ids
        spec["attempt"] = task.attempt
        self.mark_running(task, worker, state)
        head.send_to(worker.peer.client_id, (protocol.EXECUTE, spec, blob, arg_descs, job_info))

    def mark_running(self, task: Task, worker: WorkerProc, state: str = "RUNNING") -> None:
        task.ran_on = (worker.id, worker.pid)
        task.state = state
        self._emit(task, state, worker.event_info)

    # ------------------------------------------------------------ direct actor calls
    def undirect(self, task: Task) -> None:
        """The head delivers this direct call's outcome itself (an error, a retry, a death)."""
        if task.spec.pop("direct_worker", None) is None:
            return
        objects = self.head.objects
        for oid in task.returns:
            desc = objects.want(task.owner, oid)
            if desc is not None:
                self.head._push_obj(task.owner, oid, desc)

    def _early(
        self, worker: WorkerProc, task_id: str, report: tuple, caller: str | None = None
    ) -> None:
        """A direct call's end reached the head before its registration: keep it for that."""
        if worker.actor_id is None:
            return  # only actor workers take direct calls
        if caller is not None and caller not in self.head.peers:
            # Its caller is gone, and with it the registration it had not sent yet.
            self._discard_early(worker, report)
            return
        early = self.early_reports
        early[task_id] = (worker, report, caller)
        # Refs held by the results must outlive the worker's own refs to them until the
        # results are sealed (which pins them), as they would if the report came in order.
        self._pin_contained(report, 1)
        if len(early) > _EARLY_REPORTS_MAX:
            self._pin_contained(early.pop(next(iter(early)))[1], -1)

    def forget_caller(self, client_id: str) -> None:
        """`client_id` left: the direct calls it never registered will never be claimed."""
        early = self.early_reports
        if not early:
            return
        for task_id in [t for t, (_, _, caller) in early.items() if caller == client_id]:
            worker, report, _ = early.pop(task_id)
            self._discard_early(worker, report, pinned=True)

    def _discard_early(self, worker: WorkerProc, report: tuple, pinned: bool = False) -> None:
        """Free what an unclaimed report's results hold: shared memory, and pins on inner refs."""
        if pinned:
            self._pin_contained(report, -1)
        if report[0] == protocol.DONE:
            for desc in report[2]:
                self.head.objects.discard_unsealed(desc, worker.node.id)

    def _pin_contained(self, report: tuple, delta: int) -> None:
        if report[0] != protocol.DONE:
            return
        objects = self.head.objects
        for inner in report[3]:
            for oid in inner:
                if delta > 0:
                    objects.pin(oid)
                else:
                    objects.unpin(oid)

    def apply_early(self, task: Task, early: tuple) -> None:
        worker, report, _ = early
        if report[0] == protocol.DONE:
            self.on_done(worker, task.id, report[2], report[3], report[4])
            self._pin_contained(report, -1)
        else:
            self.on_failed(worker, task.id, report[2], bool(report[3]), str(report[4]))

    # ------------------------------------------------------------ workers
    def on_worker_ready(self, worker: WorkerProc) -> None:
        if worker.state == "starting" and worker.actor_id is None:
            self.num_starting = max(0, self.num_starting - 1)
        if worker.actor_id is not None:
            self.head.actors.on_worker_ready(worker)
            return
        worker.node.pool.make_idle(worker)

    def worker_blocked(self, worker: WorkerProc) -> None:
        task = worker.task
        if worker.blocked:
            return
        worker.blocked = True
        # Seen by the run analysis ("get inside a task" holds a worker while it waits).
        self.head.events.emit(
            "worker", worker.id, "BLOCKED", {"pid": worker.pid, "task_id": task and task.id}
        )
        if task is not None and task.holding and not task.actor_id:
            task.node.resources.release(task.resources, task.gpu_ids)
            task.holding = False

    def worker_unblocked(self, worker: WorkerProc) -> None:
        if not worker.blocked:
            return
        worker.blocked = False
        task = worker.task
        self.head.events.emit(
            "worker", worker.id, "UNBLOCKED", {"pid": worker.pid, "task_id": task and task.id}
        )
        if task is not None and not task.holding and not task.actor_id:
            # Take the resources back even if that oversubscribes for a moment, as Ray does.
            task.node.resources.acquire(task.resources)
            task.holding = True

    def _release(self, task: Task) -> None:
        if task.holding:
            task.node.resources.release(task.resources, task.gpu_ids)
            task.holding = False

    def on_done(
        self,
        worker: WorkerProc,
        task_id: str,
        descs: list,
        contained: list,
        times: tuple[float, float] | None = None,
        caller: str | None = None,
    ) -> None:
        """`times`: a direct call's start and end by the worker's clock (see `_finish`);
        `caller`: the client that sent it directly."""
        task = self.tasks.get(task_id)
        if task is None:
            report = (protocol.DONE, task_id, descs, contained, times)
            self._early(worker, task_id, report, caller)
            return
        if self._creation_finished(task, True, None):
            return
        if any(contained):
            self.undirect(task)  # a result holding refs reaches its caller through the head
        self._attempt_ended(worker, task)
        if task.state in ("FINISHED", "FAILED"):
            return
        started = task.times.get("RUNNING")
        if started is not None and task.actor_id is None:
            self._short_fns[task.spec.get("fn_id")] = self.head.events.now - started < _SHORT_TASK_S
        for oid, desc, inner in zip(task.returns, descs, contained, strict=False):
            self.seal(oid, desc, inner, worker.node.id)
        self._finish(task, "FINISHED", times)

    def _attempt_ended(self, worker: WorkerProc, task: Task) -> None:
        """The worker is done with `task` (either way): free what it held, give it more work."""
        if task.actor_id is not None:
            self.head.actors.call_finished(task)
            return
        self._release(task)
        if worker.task is task and not self._promote_next(worker):
            worker.node.pool.make_idle(worker)

    def on_gen_item(
        self, task_id: str, index: int, desc: tuple, contained: list, node: str | None = None
    ) -> None:
        task = self.tasks.get(task_id)
        if task is None:
            return
        oid = f"{task_id}.g{index}"
        self.head.objects.expect(oid, task.owner, task_id)
        self.head.objects.want(task.owner, oid)
        task.gen_items = max(task.gen_items, index + 1)
        self.seal(oid, desc, contained, node)

    def seal(self, oid: str, desc: tuple, contained: list, node: str | None = None) -> None:
        self.head.objects.seal(oid, desc, list(contained), node=node)
        self.object_ready(oid)
        if desc[0] == "s":
            self.head._check_capacity()

    def on_failed(
        self, worker: WorkerProc, task_id: str, err_desc: tuple, app_retry: bool, text: str
    ) -> None:
        task = self.tasks.get(task_id)
        if task is None:
            self._early(worker, task_id, (protocol.FAILED, task_id, err_desc, app_retry, text))
            return
        task.error = text
        if self._creation_finished(task, False, text):
            return
        self._attempt_ended(worker, task)
        if app_retry and not task.cancelled and task.retries_left != 0:
            task.retries_left -= 1
            self._retry(task, "the task raised and retry_exceptions allows a retry")
            return
        self._fail_desc(task, err_desc, text.strip().splitlines()[-1] if text.strip() else text)

    def on_worker_died(self, worker: WorkerProc, exit_code: int | None) -> None:
        head = self.head
        if worker.peer is not None:
            # What it sent before it died (the `done` of calls it answered directly) counts
            # first: its pidfd can be seen before its connection's last frames are read.
            head.drain(worker.peer)
        was_starting = worker.state == "starting"
        worker.node.pool.forget(worker)
        if was_starting and worker.actor_id is None:
            self.num_starting = max(0, self.num_starting - 1)
        head.events.emit("worker", worker.id, "DEAD", {"pid": worker.pid, "exit_code": exit_code})
        if worker.peer is not None:
            head._drop_peer(worker.peer, "worker died")
        if worker.actor_id is not None:
            head.actors.on_worker_died(worker, exit_code)
            return
        queued_here = list(worker.queued)
        worker.queued.clear()
        for queued in queued_here:
            if queued.state != "SUBMITTED_TO_WORKER":
                continue
            queued.worker = None
            if queued.cancelled:
                self._fail(queued, exceptions.TaskCancelledError(ids.TaskID(queued.id)))
            else:
                self._enqueue(queued)  # it never started: no retry is used up
        task = worker.task
        if task is None or task.state in ("FINISHED", "FAILED"):
            return
        self._release(task)
        if task.cancelled:
            self._fail(task, exceptions.TaskCancelledError(ids.TaskID(task.id)))
            return
        if task.retries_left != 0:
            task.retries_left -= 1
            self._retry(task, f"its worker (pid {worker.pid}) died: {_exit_text(exit_code)}")
            return
        self._fail(
            task,
            exceptions.WorkerCrashedError(
                f"The worker died unexpectedly while running {task.name} (pid {worker.pid}, "
                f"{_exit_text(exit_code)}). "
                "Likely causes: the task ran out of memory, crashed in C code, called os._exit, "
                f"or the process was killed. Worker log: {worker.log_path}. The task was tried "
                f"{task.attempt} time(s); raise max_retries to retry more."
            ),
        )

    def reconstruct(self, oid: str) -> bool:
        """Run again the task that made `oid`, whose bytes were on a node that died (lineage, as
        in Ray). Possible while the task's inputs still exist; False when they do not."""
        objects = self.head.objects
        task = self.tasks.get(oid.rsplit(".", 1)[0])
        if (
            task is None
            or task.state != "FINISHED"
            or "task_id" not in task.spec  # its record was compacted: nothing to run again
            or task.actor_id is not None
            or task.spec.get("generator")
            or task.spec.get("kind") == "actor_create"
        ):
            return False
        deps = list(task.spec.get("deps", ()))
        args = task.spec.get("args")
        if args is not None and args[0] == "s":
            return False  # its packed arguments were freed when it finished
        if any((obj := objects.get(d)) is None or obj.desc is None for d in deps):
            return False
        for d in deps:
            objects.pin(d)
        for d in task.spec.get("contained", ()):
            objects.pin(d)
        for ret in task.returns:
            obj = objects.get(ret)
            if obj is not None and (obj.node is not None or ret == oid):
                objects.reset(ret)
        try:
            self.finished.remove(task.id)
        except ValueError:
            pass
        self._emit(task, "PENDING_NODE_ASSIGNMENT", {"reconstruct": True})
        self._enqueue(task)
        return True

    def _retry(self, task: Task, why: str) -> None:
        self.undirect(task)
        task.worker = None
        self._emit(task, "PENDING_NODE_ASSIGNMENT", {"retry": task.attempt, "why": why})
        if task.actor_id is not None:
            self.head.actors.call_ready(task, front=True)
        else:
            self._enqueue(task)

    # ------------------------------------------------------------ ending
    def _fail(self, task: Task, exc: BaseException) -> None:
        from .head import error_desc

        self._fail_desc(task, error_desc(exc), str(exc).splitlines()[0] if str(exc) else "")

    def _fail_desc(self, task: Task, desc: tuple, text: str | None = None) -> None:
        if task.state in ("FINISHED", "FAILED"):
            return
        self.undirect(task)
        task.error = text if text is not None else "the task raised an exception"
        for oid in task.returns:
            self.seal(oid, desc, [])
        self._finish(task, "FAILED")

    def _finish(self, task: Task, state: str, ran: tuple[float, float] | None = None) -> None:
        """`ran`: when a direct call really started and ended, by its worker's clock. Its
        RUNNING was recorded when the head heard of it (up to a few ms late, and batched), so
        the end event carries the true start as `started` for subscribers to use instead."""
        head = self.head
        if task.spec.get("generator"):
            # A consumer may have asked for the item after the last one; it will never come.
            past_end = head.objects.get(f"{task.id}.g{task.gen_items}")
            if past_end is not None and past_end.desc is None:
                del head.objects.objects[f"{task.id}.g{task.gen_items}"]
        task.state = state
        task.worker = None
        extra: dict[str, Any] | None = {"error": task.error} if task.error else None
        at = None
        if ran is not None:
            task.times["RUNNING"], at = ran
            extra = {**(extra or {}), "started": ran[0]}
        self._emit(task, state, extra, at)
        for oid in task.spec.get("deps", ()):
            head.objects.unpin(oid)
        for oid in task.spec.get("contained", ()):
            head.objects.unpin(oid)
        args = task.spec.get("args")
        if args is not None and args[0] in ("s", "f"):
            head.objects.decref(f"task:{task.id}", [args[1].rpartition("/")[2]])
        if not self._may_rebuild(task):
            # Kept for the state API only: its packed arguments, options and code ids go (they
            # were most of a finished record's memory: ~2.5 KB a task, 250 MB for 100,000).
            task.spec = {k: task.spec[k] for k in _KEPT_WHEN_FINISHED if k in task.spec}
        self.finished.append(task.id)
        while len(self.finished) > config.TASK_HISTORY:
            self.tasks.pop(self.finished.popleft(), None)

    def _may_rebuild(self, task: Task) -> bool:
        """Whether lineage may run `task` again (`reconstruct`): a normal task whose results
        were stored on another node, which can die. The head's own node ends with the head."""
        return (
            task.state == "FINISHED"
            and task.actor_id is None
            and task.node is not None
            and task.node.id != self.head.node_id
        )

    def cancel(self, oid: str, force: bool, recursive: bool) -> None:
        task = self.tasks.get(oid.rsplit(".", 1)[0])
        if task is None or task.state in ("FINISHED", "FAILED"):
            return
        task.cancelled = True
        if recursive:
            for child_id in task.children:
                child = self.tasks.get(child_id)
                if child is not None:
                    self.cancel(child.returns[0] if child.returns else child_id, force, recursive)
        if task.state == "SUBMITTED_TO_WORKER" and task.worker is not None:
            worker = task.worker
            _unqueue(worker, task)
            task.worker = None
            self.head.send_to(worker.peer.client_id, (protocol.CANCEL_TASK, task.id, False))
            self._fail(task, exceptions.TaskCancelledError(ids.TaskID(task.id)))
            return
        if task.state == "RUNNING" and task.worker is not None:
            worker = task.worker
            if force and task.actor_id is None:
                worker.node.pool.kill(worker)
            else:
                self.head.send_to(worker.peer.client_id, (protocol.CANCEL_TASK, task.id, force))
            return
        if task.actor_id is not None:
            self.head.actors.drop_queued(task)
        self._fail(task, exceptions.TaskCancelledError(ids.TaskID(task.id)))

    def on_owner_gone(self, client_id: str) -> None:
        for task in list(self.tasks.values()):
            if task.owner == client_id and task.state in (
                "PENDING_ARGS_AVAIL",
                "PENDING_NODE_ASSIGNMENT",
            ):  # (prefetched ones run: their worker already has them)
                task.cancelled = True
                self._fail(
                    task, exceptions.TaskCancelledError(ids.TaskID(task.id), "its owner exited")
                )

    def objects_in_use(self) -> set[str]:
        """Objects a worker may be reading now (not to be spilled): the arguments of running,
        prefetched and in-flight actor tasks (their descs went out with EXECUTE)."""
        busy: set[str] = set()
        workers = self.head.nodes.head_node.pool.workers.values()
        running = [t for w in workers for t in (w.task, *w.queued)]
        for actor in self.head.actors.actors.values():
            running += actor.inflight.values()
            running.append(actor.creation)
        for task in running:
            if task is not None and task.state not in ("FINISHED", "FAILED"):
                busy.update(task.spec.get("deps", ()))
        return busy

    def periodic(self, now: float) -> None:
        for node in self.head.nodes.alive():
            pool = node.pool
            surplus = len(pool.idle) - max(1, int(node.resources.total.get("CPU", 1)))
            for worker in list(pool.idle):
                if surplus <= 0 or now - worker.started < config.IDLE_WORKER_TIMEOUT:
                    break
                peer = worker.peer
                if peer is not None and self.head.objects.owns_puts(peer.client_id):
                    continue  # as in Ray: a worker that owns objects others use stays
                pool.idle.remove(worker)
                pool.kill(worker, 15)
                surplus -= 1

    def _emit(
        self, task: Task, state: str, extra: dict[str, Any] | None = None, at: float | None = None
    ) -> None:
        """Record and publish a state change, at `at` if given (else this loop turn's time)."""
        events = self.head.events
        when = events.now if at is None else at
        task.times[state] = when
        events.emit("task", task.id, state, extra, when)


def _alive(head: Head, node_id: str) -> bool:
    node = head.nodes.by_id.get(node_id)
    return node is not None and node.state == "ALIVE"


def _unqueue(worker: WorkerProc, task: Task) -> None:
    try:
        worker.queued.remove(task)
    except ValueError:
        pass


def _exit_text(code: int | None) -> str:
    import signal

    if code is None:
        return "exit status unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
