"""The worker process: receives EXECUTE messages, runs tasks and actor calls, reports results.

    head --EXECUTE--> connection --> main loop (reads it itself while idle; the I/O thread
                          |                reads while a task runs): resolve args, run, store
                          |                results --DONE / FAILED / GEN_ITEM / RETURN--> head
                          +-- CANCEL_TASK: interrupts the main thread with SIGUSR1 at once

A worker is reused for many tasks until the head hands it to an actor, which then owns it for
life. Actors run calls one at a time in the main loop, on a thread pool (`max_concurrency > 1`),
or on an asyncio loop in a thread (any `async def` method), as in Ray.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import inspect
import json
import os
import signal
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from .. import exceptions
from . import context, ids, object_store, protocol, runtime_env
from .client import CoreClient
from .log_stream import install_task_output
from .serialization import deserialize, loads_code, serialize
from .task_spec import ActorExit, ArgRef, should_retry
from .transport import read_token_file

if TYPE_CHECKING:
    import asyncio  # loaded when an async actor starts: it costs the head ~15 ms at start-up

_IP = "127.0.0.1"
_HOLD_DONE_S = 0.001
_TINY_RUN_S = _HOLD_DONE_S / 4  # reports are held back only while such a task runs next


def _assigned(resources: dict[str, float] | None) -> dict[str, float]:
    """What a task holds while it runs, as get_assigned_resources() gives it: the amounts it
    asked for, without zeros and the per-node markers."""
    return {
        name: float(amount)
        for name, amount in (resources or {}).items()
        if amount and not name.startswith("node:")
    }


class _CancelRequested(KeyboardInterrupt):
    """Raised in the main thread by the SIGUSR1 handler when the running task is cancelled. A
    KeyboardInterrupt, as Ray raises: a task that catches it (and sees is_canceled()) may still
    return a value, which is then its result."""


class Worker:
    def __init__(self) -> None:
        self.worker_id = os.environ["RAYGROUND_WORKER_ID"]
        token = read_token_file(os.environ["RAYGROUND_TOKEN_FILE"])
        # Everything the I/O thread may touch exists before the client (and its thread) does;
        # self.client itself is set last (_on_message allows for that).
        self.fns: dict[str | None, Any] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.current_task: str | None = None
        self.cancel_target: str | None = None
        self.cancel_early: set[str] = set()
        # get_runtime_context().is_canceled(): a flag per running sync task or actor call, set
        # by cancel() (the task context carries it; the I/O thread sets it).
        self.cancel_flags: dict[str, threading.Event] = {}
        self.actor: Any = None
        self.actor_id: str | None = None
        self.actor_class_name = ""
        self.actor_module = ""
        self.actor_name = ""
        self.actor_meta: dict[str, Any] | None = None
        self.actor_placement: dict | None = None  # the placement group its actor was made in
        self.actor_resources: dict[str, float] = {}
        self.actor_gpu_ids: list[str] = []  # the actor's devices, for calls sent directly
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.async_tasks: dict[str, asyncio.Task] = {}
        self.semaphore: asyncio.Semaphore | None = None
        self.inbox: collections.deque = collections.deque()
        self._done_held_since: float | None = None  # see _send_done
        self._fn_seconds: dict[str | None, float] = {}  # each function's latest run time here
        self.env_key = ""  # the runtime_env files this process is bound to (runtime_env.py)
        self.actor_runtime_env: dict | None = None  # an actor's, for its calls' context
        self.client = CoreClient(
            os.environ["RAYGROUND_ADDRESS"],
            token,
            role="worker",
            info={"worker_id": self.worker_id},
            on_execute=self._on_message,
            on_dead=self._on_head_gone,
            head_pid=int(os.environ.get("RAYGROUND_HEAD_PID", "0")) or None,
        )
        context.set_client(self.client)
        self.client.before_block = self._return_queued
        self.main_thread = threading.main_thread()
        signal.signal(signal.SIGUSR1, self._on_cancel_signal)
        install_task_output(self.client)

    # ------------------------------------------------------------ message intake (I/O thread)
    def _on_message(self, msg: tuple) -> None:
        if msg[0] == protocol.CANCEL_TASK:
            self._cancel(msg[1], bool(msg[2]))
            return
        if msg[0] == protocol.KILL_WORKER:
            self._die_reported()
            return
        client: CoreClient | None = getattr(self, "client", None)  # unset while __init__ runs
        if (
            client is not None
            and client.in_blocking_get
            and msg[0] == protocol.EXECUTE
            and msg[1].get("kind", "task") == "task"
            and self.actor is None
        ):
            # Queued behind a task that is now waiting: give it back rather than hold it.
            client.send((protocol.RETURN, [msg[1]["task_id"]]))
            return
        self.inbox.append(msg)

    def _return_queued(self) -> list[str]:
        """Called as the running task blocks in get(): hand back tasks queued here."""
        if self.actor is not None:
            return []
        returned = []
        for msg in list(self.inbox):
            if msg[0] == protocol.EXECUTE and msg[1].get("kind", "task") == "task":
                try:
                    self.inbox.remove(msg)
                except ValueError:
                    continue
                returned.append(msg[1]["task_id"])
        return returned

    def _cancel(self, task_id: str, force: bool) -> None:
        task = self.async_tasks.get(task_id)
        if task is not None and self.loop is not None:
            self.loop.call_soon_threadsafe(task.cancel)
            return
        flag = self.cancel_flags.get(task_id)
        if flag is not None:
            flag.set()
        if self.current_task == task_id:
            self.cancel_target = task_id
            signal.pthread_kill(self.main_thread.ident, signal.SIGUSR1)  # type: ignore[arg-type]
        elif flag is None:
            # Dispatched but not started yet (still queued here, or loading its function).
            self.cancel_early.add(task_id)

    def _die_reported(self) -> None:
        """The actor is being killed. Calls answered directly have their `done` for the head
        still queued (bookkeeping leaves within ~2 ms): send it first, so the head does not
        report a call whose caller already has its result as FAILED; then die as a SIGKILL
        from the head would have it (no atexit handlers, the same exit status)."""
        with contextlib.suppress(Exception):
            self.client.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def _on_head_gone(self, reason: str) -> None:
        # Nothing a task computes now can be delivered; do not outlive the cluster.
        os._exit(1)

    def _on_cancel_signal(self, signum: int, frame: Any) -> None:
        if self.cancel_target is not None and self.cancel_target == self.current_task:
            self.cancel_target = None
            raise _CancelRequested()

    # ------------------------------------------------------------ main loop
    def run(self) -> None:
        inbox = self.inbox
        while self.client.alive:
            if not inbox:
                # Read the connection in this thread while idle: the next task is handled
                # without a hand-off from the I/O thread.
                self.client.pump_until(lambda: bool(inbox), 1.0)
                if not inbox and len(self.client.mappings):
                    self.client.mappings.purge()  # let freed objects' memory go
                continue
            msg = inbox.popleft()
            if msg[0] == protocol.EXECUTE:
                self._execute(*msg[1:5])

    def _execute(
        self, spec: dict, blob: bytes | None, arg_descs: dict, job_info: dict | None
    ) -> None:
        if spec["task_id"] in self.cancel_early:
            self.cancel_early.discard(spec["task_id"])
            self._report_error(spec, exceptions.TaskCancelledError(ids.TaskID(spec["task_id"])))
            return
        if job_info is not None:
            self._setup_job(spec.get("job_id"), job_info)
        fn_id = spec.get("fn_id")
        if blob is not None and fn_id not in self.fns:
            try:
                self.fns[fn_id] = loads_code(blob)
            except BaseException as exc:
                self._report_failure(spec, exc, retry_allowed=False)
                return
        kind = spec.get("kind", "task")
        if kind != "actor_call" and not self._bind_runtime_env(spec):
            return
        if kind == "actor_create":
            self._create_actor(spec, arg_descs)
        elif kind == "actor_call":
            self._actor_call(spec, arg_descs)
        else:
            self._run(spec, arg_descs, self.fns[fn_id])

    def _bind_runtime_env(self, spec: dict) -> bool:
        """Unpack and enter the task's working_dir / py_modules (once: the head sends this
        worker only tasks with the same ones, as Ray keys workers by runtime env)."""
        renv = spec.get("runtime_env")
        key = runtime_env.worker_key(renv)
        if not key or key == self.env_key:
            return True
        try:
            if self.env_key:  # never expected: the head keys workers by this
                raise RuntimeError(f"worker bound to {self.env_key!r} was sent {key!r}")
            cache = os.path.join(
                os.path.dirname(os.environ["RAYGROUND_TOKEN_FILE"]),  # this node's session
                "runtime_resources",
            )
            runtime_env.activate(self.client, cache, renv or {})
            self.env_key = key
        except BaseException as exc:
            err = exceptions.RuntimeEnvSetupError(
                f"Failed to set up the runtime_env {renv}: {type(exc).__name__}: {exc}"
            )
            self._report_error(spec, err)
            return False
        return True

    def _setup_job(self, job_id: str | None, info: dict) -> None:
        self.jobs[job_id or ""] = info
        for entry in reversed(info.get("sys_path") or []):
            if entry not in sys.path:
                sys.path.insert(0, entry)

    # ------------------------------------------------------------ running one call
    def _task_context(self, spec: dict) -> dict[str, Any]:
        job = self.jobs.get(spec.get("job_id") or "", {})
        name = self.actor_class_name if spec.get("actor_id") else spec.get("name", "?")
        return {
            "task_id": spec["task_id"],
            "job_id": spec.get("job_id"),
            "actor_id": spec.get("actor_id"),
            "name": spec.get("name"),
            "log_prefix": f"({name.split('.')[-1]} pid={os.getpid()})",
            "gpu_ids": spec.get("gpu_ids") or [],
            "namespace": job.get("namespace"),
            "node_id": self.client.session["node_id"],
            "worker_id": self.worker_id,
            "function_name": self._function_name(spec),
            # is_canceled(): Ray refuses it in an async actor; elsewhere the call's flag says.
            "async_actor": self.loop is not None and bool(spec.get("actor_id")),
            "cancel_flag": self.cancel_flags.get(spec["task_id"]),
            "actor_name": self.actor_name if spec.get("actor_id") else None,
            "actor_meta": self.actor_meta if spec.get("actor_id") else None,
            "runtime_env": self.actor_runtime_env
            if spec.get("kind") == "actor_call"
            else spec.get("runtime_env"),
            # get_current_placement_group(); an actor's methods run in its creation's group
            "placement_group": spec.get("placement_group") or self.actor_placement,
            # get_assigned_resources(): an actor's methods hold what its creation asked for
            "resources": self.actor_resources
            if spec.get("kind") == "actor_call"
            else _assigned(spec.get("resources")),
        }

    def _function_name(self, spec: dict) -> str | None:
        """`module.qualname` of what runs (`module.Class.method` in an actor), as Ray's
        `get_task_function_name()` gives it."""
        if spec.get("actor_id"):
            return f"{self.actor_module}.{self.actor_class_name}.{spec.get('method', '__init__')}"
        fn = self.fns.get(spec.get("fn_id") or "")
        if fn is None:
            return None
        return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', spec.get('name'))}"

    def _env_for(self, spec: dict) -> dict[str, str]:
        job = self.jobs.get(spec.get("job_id") or "", {})
        env = dict(job.get("env_vars") or {})
        renv = spec.get("runtime_env") or {}
        env.update(renv.get("env_vars") or {})
        if spec.get("gpu_ids") or (spec.get("resources") or {}).get("GPU"):
            env["CUDA_VISIBLE_DEVICES"] = ",".join(spec.get("gpu_ids") or [])
        return env

    def _resolve_args(self, spec: dict, arg_descs: dict) -> tuple[list, dict]:
        args_desc = spec["args"]
        if args_desc[0] == "i":
            packed_args, packed_kwargs = deserialize(args_desc[1])
        else:
            path = self.client.local_path(args_desc[1], args_desc)
            packed_args, packed_kwargs = deserialize(self.client.mappings.map(path))
        cache: dict[str, Any] = {}

        def value(v: Any) -> Any:
            if not isinstance(v, ArgRef):
                return v
            if v.oid not in cache:
                cache[v.oid] = self.client.decode(v.oid, arg_descs[v.oid])
            return cache[v.oid]

        return [value(a) for a in packed_args], {k: value(v) for k, v in packed_kwargs.items()}

    def _run(self, spec: dict, arg_descs: dict, fn: Any) -> None:
        """Run a normal task in this (main) thread."""
        if spec["task_id"] in self.cancel_early:  # cancelled while its function was loading
            self.cancel_early.discard(spec["task_id"])
            self._report_error(spec, exceptions.TaskCancelledError(ids.TaskID(spec["task_id"])))
            return
        env = self._env_for(spec)
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        self.cancel_flags[spec["task_id"]] = threading.Event()
        token = context.set_task_context(self._task_context(spec))
        self.current_task = spec["task_id"]
        try:
            try:
                spec["_started"] = time.time()  # the head's RUNNING is when it sent the task
                try:
                    args, kwargs = self._resolve_args(spec, arg_descs)
                except exceptions.RayError as exc:
                    # An argument's task failed: its error passes on unchanged, as in Ray.
                    self._report_error(spec, exc, retry_allowed=False)
                    return
                started = time.perf_counter()
                result = fn(*args, **kwargs)
                self._fn_seconds[spec.get("fn_id")] = time.perf_counter() - started
                self._deliver(spec, result)
            finally:
                self.current_task = None
                self.cancel_target = None
                self.cancel_flags.pop(spec["task_id"], None)
        except _CancelRequested as interrupt:
            self._report_cancelled(spec, interrupt)
        except BaseException as exc:
            self._report_failure(spec, exc, retry_allowed=should_retry(spec, exc))
        finally:
            context.reset_task_context(token)
            sys.stdout.flush()
            sys.stderr.flush()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def _deliver(self, spec: dict, result: Any) -> None:
        if spec.get("generator"):
            self._stream(spec, result)
        else:
            self._report_result(spec, result)

    def _send_item(self, spec: dict, index: int, item: Any) -> None:
        desc, contained = self._store(f"{spec['task_id']}.g{index}", item)
        self.client.send((protocol.GEN_ITEM, spec["task_id"], index, desc, contained))

    def _stream(self, spec: dict, gen: Any) -> None:
        count = 0
        if inspect.isasyncgen(gen):
            raise TypeError("async generators are supported only as methods of async actors")
        for count, item in enumerate(gen, start=1):
            self._send_item(spec, count - 1, item)
        self._report_result(spec, count)

    def _store(self, oid: str, value: Any) -> tuple[tuple, list[str]]:
        obj = serialize(value)
        try:
            desc = self.client.store(oid, obj)
        except FileExistsError:  # a retried task writing the segment a dead attempt left behind
            object_store.delete_segment(
                object_store.segment_path(self.client.session["shm_dir"], oid)
            )
            desc = self.client.store(oid, obj)
        return desc, obj.contained

    def _report_result(self, spec: dict, result: Any) -> None:
        returns = spec["returns"]
        n = len(returns)
        if spec.get("generator") or n == 1:
            values = [result]
        elif n == 0:
            values = []
        else:
            if not isinstance(result, tuple | list) or len(result) != n:
                got = len(result) if isinstance(result, tuple | list) else "a non-sequence"
                raise ValueError(
                    f"{spec.get('name')} was declared with num_returns={n} but returned {got}; "
                    f"return a tuple of {n} values or change num_returns."
                )
            values = list(result)
        descs, contained = [], []
        for oid, value in zip(returns, values, strict=True):
            try:
                desc, inner = self._store(oid, value)
            except exceptions.ObjectStoreFullError:
                raise  # says what was asked and what is free; not a pickling problem
            except Exception as exc:
                raise TypeError(
                    f"Could not serialize the return value of {spec.get('name')}(): a "
                    f"{type(value).__qualname__} cannot be pickled ({type(exc).__name__}: {exc})."
                    " Return plain data instead (lists, dicts, NumPy arrays)."
                ) from exc
            descs.append(desc)
            contained.append(inner)
        done: tuple = (protocol.DONE, spec["task_id"], descs, contained)
        # When it really ran, by this worker's clock: the head hears of a task's start and end
        # late (a task queued here starts when the previous one ends; tiny tasks' reports come
        # batched, and a direct call's only after its caller has the result).
        about: dict[str, Any] = {"times": (spec.get("_started", 0.0), time.time())}
        reply = spec.get("_reply")
        if reply is not None:
            # A direct call: also say for whom (if that caller is gone, nobody will claim the
            # results).
            about["caller"] = reply.caller
        done = (*done, about)
        if reply is not None:
            if not any(contained):
                self._reply_direct(reply, returns, done)
                return
        self._send_done(done)

    def _reply_direct(self, channel: Any, returns: list[str], done: tuple) -> None:
        """A direct call's results go straight to its caller; the head's `done` is bookkeeping
        and follows within a few ms. While the next call waiting here is another direct one, the
        results are held back briefly (at most _HOLD_DONE_S), so a burst of calls is answered
        in few messages."""
        client = self.client
        results = [(protocol.OBJ, o, d) for o, d in zip(returns, done[2], strict=True)]
        # The `done` is queued before the results: whenever the results have left, it is
        # queued too, so a kill that flushes what is queued (_die_reported) reports the call.
        client.queue_message(done, urgent=False)
        client.direct.reply(channel, results)
        inbox = self.inbox
        next_is_direct = (
            bool(inbox)
            and inbox[0][0] == protocol.EXECUTE
            and inbox[0][1].get("_reply") is not None
        )
        if not self._hold_reports(next_is_direct):
            client.flush_direct()

    def _hold_reports(self, worth_it: bool) -> bool:
        """Whether finished reports may wait a little longer for the next task's: only while
        `worth_it`, and for at most _HOLD_DONE_S since the first one was held."""
        if worth_it:
            now = time.monotonic()
            if self._done_held_since is None:
                self._done_held_since = now
            if now - self._done_held_since < _HOLD_DONE_S:
                return True
        self._done_held_since = None
        return False

    def _send_done(self, msg: tuple) -> None:
        """Report a finished task; while the next task queued here is one whose last run was
        tiny, hold reports back briefly (at most _HOLD_DONE_S) and send them together: for tiny
        tasks, one message per task each way is most of what they cost the head and the caller.
        Before a task that may run longer, everything held goes out, so no result (or the
        timeline's record of when the next task started) waits on it."""
        inbox = self.inbox
        head = inbox[0] if self.actor is None and inbox else None
        tiny_next = (
            head is not None
            and head[0] == protocol.EXECUTE
            and head[1].get("kind", "task") == "task"
            and self._fn_seconds.get(head[1].get("fn_id"), _TINY_RUN_S) < _TINY_RUN_S
        )
        if self._hold_reports(tiny_next):
            # Sent with the next message, or before this worker next waits.
            self.client.queue_message(msg)
            return
        self.client.send(msg)

    def _report_failure(self, spec: dict, exc: BaseException, retry_allowed: bool) -> None:
        name = spec.get("method") or spec.get("name") or "task"
        tb = _user_traceback(exc)
        # A failed nested get re-raised here: keep the innermost cause, so `except ValueError`
        # still catches it in the caller, and this task's traceback shows where it passed.
        cause = exc.cause if isinstance(exc, exceptions.RayTaskError) else exc
        err = exceptions.RayTaskError(
            str(name).split(".")[-1], tb, cause, pid=os.getpid(), ip=_IP
        ).as_instanceof_cause()
        self._report_error(spec, err, retry_allowed, tb)

    def _report_cancelled(self, spec: dict, interrupt: _CancelRequested) -> None:
        """A running task interrupted by `cancel()`: as in Ray, the error is a RayTaskError that
        is also a TaskCancelledError, its traceback showing the line the task had reached."""
        cause = exceptions.TaskCancelledError(ids.TaskID(spec["task_id"]))
        tb = interrupt.__traceback__
        while tb is not None and tb.tb_next is not None:  # end at the user's line, not the
            if tb.tb_next.tb_frame.f_code.co_filename.startswith(_CORE_DIR):  # signal handler
                tb.tb_next = None
                break
            tb = tb.tb_next
        cause.__traceback__ = interrupt.__traceback__
        self._report_failure(spec, cause, retry_allowed=False)

    def _report_error(
        self, spec: dict, err: BaseException, retry_allowed: bool = False, text: str | None = None
    ) -> None:
        try:
            payload = serialize(err).to_bytes()
        except Exception:
            # The user's exception cannot be pickled: keep its text, drop the object.
            cause = exceptions.RayError(f"{type(err).__name__}: {err}")
            tb = text or str(err)
            payload = serialize(
                exceptions.RayTaskError(spec.get("name", "task"), tb, cause, pid=os.getpid())
            ).to_bytes()
        self.client.send(
            (protocol.FAILED, spec["task_id"], ("e", payload), retry_allowed, text or str(err))
        )

    # ------------------------------------------------------------ actors
    def _create_actor(self, spec: dict, arg_descs: dict) -> None:
        cls = self.fns[spec["fn_id"]]
        self.actor_id = spec["actor_id"]
        self.actor_gpu_ids = spec.get("gpu_ids") or []
        self.actor_class_name = spec.get("class_name", cls.__name__)
        self.actor_module = getattr(cls, "__module__", "?")
        self.actor_name = spec.get("actor_name") or ""
        self.actor_meta = spec.get("meta")
        self.actor_runtime_env = spec.get("runtime_env")
        self.actor_placement = spec.get("placement_group")
        self.actor_resources = _assigned(spec.get("resources"))
        env = self._env_for(spec)
        os.environ.update(env)  # an actor keeps its environment for life
        token = context.set_task_context(self._task_context(spec))
        try:
            args, kwargs = self._resolve_args(spec, arg_descs)
            self.actor = cls(*args, **kwargs)
        except BaseException as exc:
            self._report_failure(spec, exc, retry_allowed=False)
            return
        finally:
            context.reset_task_context(token)
        is_async = spec.get("is_async", False)
        concurrency = spec.get("max_concurrency") or (1000 if is_async else 1)
        if is_async:
            import asyncio

            self.loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run_loop() -> None:
                assert self.loop is not None
                asyncio.set_event_loop(self.loop)
                self.semaphore = asyncio.Semaphore(concurrency)
                ready.set()
                self.loop.run_forever()

            threading.Thread(target=run_loop, name="rayground-actor-loop", daemon=True).start()
            ready.wait()
        elif concurrency > 1:
            self.pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=concurrency, thread_name_prefix="rayground-actor"
            )
        extra = {}
        if not is_async and concurrency == 1:
            # One call at a time in this thread: callers may send calls here directly.
            address = self.client.direct.serve(os.path.dirname(os.environ["RAYGROUND_TOKEN_FILE"]))
            if address:
                extra["direct"] = address
        self.client.send((protocol.DONE, spec["task_id"], [], [], extra))

    def _actor_call(self, spec: dict, arg_descs: dict) -> None:
        if "gpu_ids" not in spec:  # sent directly, not through the head
            spec["gpu_ids"] = self.actor_gpu_ids
        if spec.get("_reply") is not None:
            spec["_started"] = time.time()  # the head's record of it comes later: see done
        try:
            args, kwargs = self._resolve_args(spec, arg_descs)
            method = getattr(self.actor, spec["method"])
        except BaseException as exc:
            self._report_failure(spec, exc, retry_allowed=False)
            return
        if self.loop is not None:
            import asyncio

            fut = asyncio.run_coroutine_threadsafe(
                self._call_async(spec, method, args, kwargs), self.loop
            )
            fut.add_done_callback(lambda f: f.exception())  # errors are reported inside
        elif self.pool is not None:
            self.pool.submit(self._call_sync, spec, method, args, kwargs)
        else:
            self._call_sync(spec, method, args, kwargs)

    def _call_sync(self, spec: dict, method: Any, args: list, kwargs: dict) -> None:
        """Run a sync actor method. As in Ray, cancel() does not interrupt it: it sets the flag
        that get_runtime_context().is_canceled() reads, and the call's result is then a
        TaskCancelledError whatever the method returns."""
        spec.setdefault("_started", time.time())  # a pooled call starts when a thread is free
        task_id = spec["task_id"]
        flag = self.cancel_flags[task_id] = threading.Event()
        if task_id in self.cancel_early:  # cancelled while it waited for a thread: never runs
            self.cancel_early.discard(task_id)
            self.cancel_flags.pop(task_id, None)
            self._report_error(spec, exceptions.TaskCancelledError(ids.TaskID(task_id)))
            return
        token = context.set_task_context(self._task_context(spec))
        try:
            try:
                result = method(*args, **kwargs)
            finally:
                self.cancel_flags.pop(task_id, None)
            if flag.is_set():
                self._report_error(spec, exceptions.TaskCancelledError(ids.TaskID(task_id)))
            else:
                self._deliver(spec, result)
        except ActorExit:
            self._exit_actor(spec)
        except BaseException as exc:
            if flag.is_set():
                self._report_error(spec, exceptions.TaskCancelledError(ids.TaskID(task_id)))
            else:
                self._report_failure(spec, exc, retry_allowed=should_retry(spec, exc))
        finally:
            context.reset_task_context(token)

    async def _call_async(self, spec: dict, method: Any, args: list, kwargs: dict) -> None:
        import asyncio

        assert self.semaphore is not None
        async with self.semaphore:
            spec.setdefault("_started", time.time())
            token = context.set_task_context(self._task_context(spec))
            task = asyncio.current_task()
            if task is not None:
                self.async_tasks[spec["task_id"]] = task
            try:
                result = method(*args, **kwargs)
                if inspect.isawaitable(result):
                    result = await result
                if inspect.isasyncgen(result):
                    count = 0
                    async for item in result:
                        self._send_item(spec, count, item)
                        count += 1
                    self._report_result(spec, count)
                else:
                    self._deliver(spec, result)
            except ActorExit:
                self._exit_actor(spec)
            except asyncio.CancelledError:
                self._report_error(spec, exceptions.TaskCancelledError(ids.TaskID(spec["task_id"])))
            except BaseException as exc:
                self._report_failure(spec, exc, retry_allowed=should_retry(spec, exc))
            finally:
                self.async_tasks.pop(spec["task_id"], None)
                context.reset_task_context(token)

    def _exit_actor(self, spec: dict) -> None:
        self.client.send((protocol.ACTOR_EXIT, self.actor_id))
        self._report_error(
            spec,
            exceptions.ActorDiedError(
                "The actor exited by calling exit_actor() in this call.",
                actor_id=ids.to_hex(self.actor_id or ""),
            ),
        )
        self.client.flush()
        self.client.close()
        os._exit(0)


_CORE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_traceback(exc: BaseException) -> str:
    """The traceback as Ray shows it: from the user's first frame (the worker's own frames that
    called it say nothing about the failure), without the "Traceback ..." header line."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_CORE_DIR):
            break
        tb = tb.tb_next
    lines = traceback.format_exception(type(exc), exc, tb)
    if lines and lines[0].startswith("Traceback (most recent call last)"):
        lines = lines[1:]
    return "".join(lines)


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # cancellation comes from the head, not signals
    for entry in reversed(json.loads(os.environ.get("RAYGROUND_SYS_PATH", "[]"))):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    worker = Worker()
    try:
        worker.run()
    finally:
        try:
            worker.client.close()
        except Exception:
            pass
        os._exit(0)


if __name__ == "__main__":
    main()
