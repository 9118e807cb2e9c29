"""The actor side of a trial: runs one trainable at a time and hands its results to the driver.

    driver (controller.py)                      trial actor (TrialRunner, one process)
      start(trial_info, config, checkpoint) --> starts the trainable: a function on its own
                                                thread; a Trainable instance in place
      next() -----------------------------------> waits for the trainable's next result:
            <---- {"kind": "result", metrics}       a function blocks in tune.report until the
            <---- {"kind": "done"}                  driver calls next() again, so it runs at
            <---- {"kind": "error", ...}            most one result ahead of the decisions
      save() -----------------------------------> a checkpoint now (Trainable classes)
      stop() -----------------------------------> the trainable unwinds (TrialStopped from
                                                tune.report); the process can take a new trial

The actor class is created per trainable with the trainable's name, so its printed lines carry
the prefix `(train_fn pid=...)` like any task's, and the views list trials under that name.
"""

from __future__ import annotations

import contextvars
import copy
import os
import queue
import shutil
import socket
import tempfile
import threading
import time
import traceback
from datetime import datetime
from typing import Any

from . import session as session_mod
from .checkpoint import Checkpoint
from .session import TrialStopped
from .trainable import is_class_trainable

# The thread of a function trainable is given this long to unwind after stop() before the
# runner reports that it is stuck (and the driver kills the process instead of reusing it).
_STOP_JOIN_S = 5.0


def _error_event(exc: BaseException) -> dict[str, Any]:
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    try:
        import cloudpickle

        cloudpickle.dumps(exc)
        picklable: BaseException | None = exc
    except Exception:
        picklable = None
    return {
        "kind": "error",
        "error": picklable,
        "error_type": type(exc).__name__,
        "message": str(exc),
        "traceback": tb,
    }


class TrialSession:
    """One trial inside the runner: counts iterations, times them, persists checkpoints."""

    def __init__(self, info: dict[str, Any], checkpoint: Checkpoint | None) -> None:
        self.info = info
        self.checkpoint = checkpoint
        self.iteration = int(info.get("start_iteration", 0))
        self.time_total = float(info.get("start_time_total", 0.0))
        self.checkpoint_index = int(info.get("checkpoint_index", 0))
        self.iterations_since_restore = 0
        self.time_since_restore = 0.0
        if checkpoint is not None:
            progress = session_mod.checkpoint_progress(checkpoint.path)
            self.iteration = int(progress.get("training_iteration", self.iteration))
            self.time_total = float(progress.get("time_total_s", self.time_total))
        self.last_time = time.time()
        self.results: queue.Queue[dict[str, Any]] = queue.Queue()
        self.resume = threading.Semaphore(0)
        self.stopping = False

    def make_result(
        self, metrics: dict[str, Any], checkpoint: Checkpoint | None, dir_name: str | None
    ) -> dict[str, Any]:
        now = time.time()
        elapsed = now - self.last_time
        self.last_time = now
        self.iteration += 1
        self.iterations_since_restore += 1
        self.time_total += elapsed
        self.time_since_restore += elapsed
        persisted = None
        if checkpoint is not None:
            persisted = session_mod.persist_checkpoint(
                checkpoint,
                self.info["trial_dir"],
                self.checkpoint_index,
                dir_name,
                self.progress(),
            )
            self.checkpoint_index += 1
            self.checkpoint = persisted
        result = dict(metrics)
        result.update(
            {
                "timestamp": int(now),
                "checkpoint_dir_name": os.path.basename(persisted.path) if persisted else None,
                "done": False,
                "training_iteration": self.iteration,
                "trial_id": self.info["trial_id"],
                "date": datetime.now().strftime("%Y-%m-%d_%H-%M-%S"),
                "time_this_iter_s": elapsed,
                "time_total_s": self.time_total,
                "pid": os.getpid(),
                "hostname": socket.gethostname(),
                "node_ip": self.info.get("node_ip", "127.0.0.1"),
                "time_since_restore": self.time_since_restore,
                "iterations_since_restore": self.iterations_since_restore,
            }
        )
        # The user's own values win over the filled-in ones (a trainable may count its own
        # training_iteration), as in Ray.
        result.update({k: v for k, v in metrics.items()})
        return {
            "kind": "result",
            "metrics": result,
            "checkpoint": persisted.path if persisted else None,
            "checkpoint_index": self.checkpoint_index,
        }

    def progress(self) -> dict[str, Any]:
        return {"training_iteration": self.iteration, "time_total_s": self.time_total}

    # called on the trainable's thread, through tune.report
    def report(
        self, metrics: dict[str, Any], checkpoint: Checkpoint | None, dir_name: str | None
    ) -> None:
        if self.stopping:
            raise TrialStopped()
        self.results.put(self.make_result(metrics, checkpoint, dir_name))
        self.resume.acquire()
        if self.stopping:
            raise TrialStopped()


class TrialRunner:
    """Base of the per-trainable actor class (see `actor_class`)."""

    def __init__(self, trainable: Any) -> None:
        self._trainable = trainable
        self._session: TrialSession | None = None
        self._thread: threading.Thread | None = None
        self._instance: Any = None
        self._waiting = False

    def start(
        self, info: dict[str, Any], config: dict[str, Any], checkpoint_path: str | None
    ) -> bool:
        checkpoint = Checkpoint(checkpoint_path) if checkpoint_path else None
        self._session = session = TrialSession(info, checkpoint)
        self._waiting = False
        os.makedirs(info["trial_dir"], mode=0o700, exist_ok=True)
        if is_class_trainable(self._trainable):
            return self._start_class(session, config, checkpoint)
        ctx = contextvars.copy_context()
        ctx.run(session_mod._session.set, session)
        self._thread = threading.Thread(
            target=ctx.run,
            args=(self._run_function, session, config),
            name=f"tune-trial-{info['trial_id']}",
            daemon=True,
        )
        self._thread.start()
        return True

    def _run_function(self, session: TrialSession, config: dict[str, Any]) -> None:
        try:
            self._trainable(config)
        except TrialStopped:
            session.results.put({"kind": "stopped"})
            return
        except BaseException as exc:  # the trial's error goes to the driver, not the actor
            session.results.put(_error_event(exc))
            return
        session.results.put({"kind": "done"})

    def _start_class(
        self, session: TrialSession, config: dict[str, Any], checkpoint: Checkpoint | None
    ) -> bool:
        token = session_mod._session.set(session)
        try:
            if self._instance is not None:
                # Ray sets the new config first, then asks reset_config to adopt it
                # (one deep copy, both self.config and reset_config's argument, as on Ray)
                self._instance.config = new_config = copy.deepcopy(config)
                if self._instance.reset_config(new_config):
                    self._instance._info = dict(session.info)
                    self._instance._iteration = session.iteration
                else:
                    # as on Ray, the trial handed this actor fails, and the instance goes
                    # (its cleanup() sees the config it was just given, as Ray's stop())
                    self.cleanup()
                    from .controller import TuneError  # (controller imports this module)

                    raise TuneError(
                        "Trainable runner reuse requires reset_config() to be implemented and "
                        "return True (or leave reuse_actors unset for a class Trainable)."
                    )
            else:
                self._instance = self._trainable(config, **session.info)
                self._instance._iteration = session.iteration
            if checkpoint is not None:
                self._load(checkpoint)
        except BaseException as exc:
            self.cleanup()  # an instance that failed to start goes, as on Ray (stop())
            session.results.put(_error_event(exc))
        finally:
            session_mod._session.reset(token)
        return True

    def _load(self, checkpoint: Checkpoint) -> None:
        state_file = os.path.join(checkpoint.path, ".tune_state.pkl")
        if os.path.exists(state_file):
            import pickle

            with open(state_file, "rb") as f:
                self._instance.load_checkpoint(pickle.load(f))
        else:
            self._instance.load_checkpoint(checkpoint.path)

    def next(self) -> dict[str, Any]:
        session = self._session
        if session is None:
            return {
                "kind": "error",
                "error": None,
                "error_type": "RuntimeError",
                "message": "next() before start()",
                "traceback": "",
            }
        if not session.results.empty() or self._instance is None:
            if self._waiting:
                session.resume.release()
            event = session.results.get()
            self._waiting = event["kind"] == "result"
            return event
        token = session_mod._session.set(session)
        try:
            metrics = self._instance.step()
            if not isinstance(metrics, dict):
                raise TypeError(
                    f"{type(self._instance).__name__}.step() must return a dict of metrics, "
                    f"got {type(metrics).__name__}."
                )
            self._instance._iteration = session.iteration + 1
            event = session.make_result(metrics, None, None)
            event["metrics"]["done"] = bool(metrics.get("done", False))
            return event
        except BaseException as exc:
            return _error_event(exc)
        finally:
            session_mod._session.reset(token)

    def save(self) -> str | None:
        """Checkpoint a Trainable instance now, under the trial's folder; for a function
        trainable, the last checkpoint it reported."""
        session = self._session
        if session is None:
            return None
        if self._instance is None:
            return session.checkpoint.path if session.checkpoint else None
        tmp = tempfile.mkdtemp(prefix="tune-save-")
        try:
            state = self._instance.save_checkpoint(tmp)
            if state is not None and not isinstance(state, str):
                import pickle

                with open(os.path.join(tmp, ".tune_state.pkl"), "wb") as f:
                    pickle.dump(state, f)
            persisted = session_mod.persist_checkpoint(
                Checkpoint(tmp),
                session.info["trial_dir"],
                session.checkpoint_index,
                progress=session.progress(),
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        session.checkpoint_index += 1
        session.checkpoint = persisted
        return persisted.path

    def stop(self, cleanup: bool = False) -> bool:
        """End the running trial; True when this process can take another one. With
        `cleanup` (the driver will not reuse this actor), a Trainable's cleanup() runs too,
        in the same call: one round trip, as Ray's Trainable.stop() calls cleanup()."""
        session = self._session
        self._session = None
        unwound = True
        if self._thread is not None and session is not None:
            session.stopping = True
            session.resume.release()
            self._thread.join(_STOP_JOIN_S)
            unwound = not self._thread.is_alive()
            self._thread = None
        if cleanup and unwound:
            self.cleanup()
        return unwound

    def cleanup(self) -> None:
        """A Trainable's cleanup(), once: its actor is going. An error in it is printed (the
        driver shows it with the actor's prefix) and does not change the trial's outcome,
        as on Ray, where a failed stop() is logged."""
        instance, self._instance = self._instance, None
        if instance is None:
            return
        try:
            instance.cleanup()
        except Exception:
            traceback.print_exc()


def actor_class(trainable: Any, name: str) -> type:
    """A TrialRunner subclass named after the trainable (its output prefix and view name)."""
    cls = type(name, (TrialRunner,), {"__module__": __name__})
    cls.__qualname__ = name
    return cls
