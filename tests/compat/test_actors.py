"""Actors: state, ordering, naming, lifetimes, concurrency, failures and restarts."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from rayground.jupyter.spans import peak_parallelism


def _counter_class(ray):
    @ray.remote
    class Counter:
        def __init__(self, start=0):
            self.value = start

        def increment(self, by=1):
            self.value += by
            return self.value

        def get(self):
            return self.value

        def pid(self):
            return os.getpid()

    return Counter


# --------------------------------------------------------------------------------------------------
# State and ordering


def test_actor_keeps_state_between_calls(ray):
    counter = _counter_class(ray).remote(start=10)
    assert ray.get(counter.increment.remote(), timeout=30) == 11
    assert ray.get(counter.increment.remote(by=5), timeout=30) == 16
    assert ray.get(counter.get.remote(), timeout=30) == 16
    ref = counter.get.remote()
    assert isinstance(ref, ray.ObjectRef)


def test_calls_from_one_caller_run_in_submission_order(ray):
    counter = _counter_class(ray).remote()
    refs = [counter.increment.remote() for _ in range(100)]
    assert ray.get(refs, timeout=60) == list(range(1, 101))


def test_actor_runs_in_its_own_process(ray):
    Counter = _counter_class(ray)
    a, b = Counter.remote(), Counter.remote()
    pid_a, pid_b = ray.get([a.pid.remote(), b.pid.remote()], timeout=30)
    assert pid_a != pid_b
    assert os.getpid() not in (pid_a, pid_b)
    assert ray.get(a.pid.remote(), timeout=30) == pid_a  # the same process every call


def test_direct_instantiation_and_direct_method_call_raise_type_error(ray):
    Counter = _counter_class(ray)
    # Ray: "Actors cannot be instantiated directly. Instead of 'Counter()', use
    # 'Counter.remote()'."
    with pytest.raises(TypeError, match=r"\.remote\(\)"):
        Counter()
    counter = Counter.remote()
    # Ray: "Actor methods cannot be called directly. Instead of running 'object.increment()',
    # try 'object.increment.remote()'."
    with pytest.raises(TypeError, match=r"\.remote\(\)"):
        counter.increment()


def test_method_num_returns(ray):
    @ray.remote
    class Splitter:
        @ray.method(num_returns=2)
        def split(self, text):
            head, _, tail = text.partition(" ")
            return head, tail

        def pair(self):
            return 1, 2

    s = Splitter.remote()
    head, tail = s.split.remote("hello big world")
    assert ray.get([head, tail], timeout=30) == ["hello", "big world"]
    one, two = s.pair.options(num_returns=2).remote()
    assert ray.get([one, two], timeout=30) == [1, 2]


def test_method_error_keeps_the_actor_alive(ray, exc):
    @ray.remote
    class Fragile:
        def __init__(self):
            self.calls = 0

        def call(self, fail):
            self.calls += 1
            if fail:
                raise ValueError("method failed")
            return self.calls

    f = Fragile.remote()
    assert ray.get(f.call.remote(False), timeout=30) == 1
    with pytest.raises(ValueError, match="method failed") as info:
        ray.get(f.call.remote(True), timeout=30)
    assert isinstance(info.value, exc.RayTaskError)
    assert not isinstance(info.value, exc.RayActorError)
    assert ray.get(f.call.remote(False), timeout=30) == 3


def test_runtime_context_actor_id_inside_an_actor(ray):
    @ray.remote
    class WhoAmI:
        def actor_id(self):
            return ray.get_runtime_context().get_actor_id()

    a, b = WhoAmI.remote(), WhoAmI.remote()
    id_a = ray.get(a.actor_id.remote(), timeout=30)
    assert isinstance(id_a, str)
    assert id_a
    assert ray.get(a.actor_id.remote(), timeout=30) == id_a
    assert ray.get(b.actor_id.remote(), timeout=30) != id_a


# --------------------------------------------------------------------------------------------------
# Handles passed around


def test_actor_handle_passed_to_tasks(ray):
    # The DataStore pattern: many tasks write into one actor through its handle.
    @ray.remote
    class DataStore:
        def __init__(self):
            self.data = {}

        def add(self, key, value):
            self.data[key] = value
            return len(self.data)

        def get_all(self):
            return dict(self.data)

    @ray.remote
    def producer(store, i):
        ray.get(store.add.remote(f"key-{i}", i * i))
        return i

    store = DataStore.remote()
    assert sorted(ray.get([producer.remote(store, i) for i in range(6)], timeout=60)) == list(
        range(6)
    )
    assert ray.get(store.get_all.remote(), timeout=30) == {f"key-{i}": i * i for i in range(6)}


def test_actor_handle_passed_to_another_actor(ray):
    Counter = _counter_class(ray)

    @ray.remote
    class Forwarder:
        def __init__(self, target):
            self.target = target

        def bump(self):
            return ray.get(self.target.increment.remote())

    counter = Counter.remote()
    fwd = Forwarder.remote(counter)
    assert ray.get(fwd.bump.remote(), timeout=30) == 1
    assert ray.get(fwd.bump.remote(), timeout=30) == 2
    assert ray.get(counter.get.remote(), timeout=30) == 2


# --------------------------------------------------------------------------------------------------
# Named and detached actors


def test_named_actor_in_a_namespace(ray):
    Counter = _counter_class(ray)
    counter = Counter.options(name="compat-named", namespace="compat-ns").remote()
    assert ray.get(counter.increment.remote(), timeout=30) == 1
    same = ray.get_actor("compat-named", namespace="compat-ns")
    assert ray.get(same.increment.remote(), timeout=30) == 2
    # The name is only registered in that namespace, not the job's own (anonymous) one.
    with pytest.raises(ValueError):
        ray.get_actor("compat-named")
    ray.kill(counter)


def test_named_actor_in_the_job_namespace(ray):
    Counter = _counter_class(ray)
    counter = Counter.options(name="compat-plain").remote()
    ray.get(counter.increment.remote(), timeout=30)
    assert ray.get(ray.get_actor("compat-plain").get.remote(), timeout=30) == 1
    ray.kill(counter)


def test_get_if_exists_returns_the_same_actor(ray):
    Counter = _counter_class(ray)
    first = Counter.options(name="compat-gie", get_if_exists=True).remote()
    assert ray.get(first.increment.remote(), timeout=30) == 1
    second = Counter.options(name="compat-gie", get_if_exists=True).remote(start=100)
    # Same actor: its state continues, the new constructor arguments are ignored.
    assert ray.get(second.increment.remote(), timeout=30) == 2
    assert second == first  # Ray's ActorHandle compares by actor id
    ray.kill(first)


def test_duplicate_actor_name_raises_value_error(ray):
    Counter = _counter_class(ray)
    counter = Counter.options(name="compat-dup").remote()
    ray.get(counter.get.remote(), timeout=30)
    # Ray raises ray.exceptions.ActorAlreadyExistsError, a ValueError subclass: "The name
    # compat-dup (namespace=...) is already taken. ...".
    with pytest.raises(ValueError, match="compat-dup"):
        Counter.options(name="compat-dup").remote()
    ray.kill(counter)


def test_get_actor_of_an_unknown_name_raises_value_error(ray):
    # Ray: "Failed to look up actor with name 'compat-nope'. This could because 1. ..."
    with pytest.raises(ValueError, match="compat-nope"):
        ray.get_actor("compat-nope")


def test_detached_actor_then_kill(ray, wait_until):
    Counter = _counter_class(ray)
    detached = Counter.options(name="compat-detached", lifetime="detached").remote()
    assert ray.get(detached.increment.remote(), timeout=30) == 1
    found = ray.get_actor("compat-detached")
    assert ray.get(found.increment.remote(), timeout=30) == 2
    ray.kill(detached)

    def name_released():
        try:
            ray.get_actor("compat-detached")
        except ValueError:
            return True
        return False

    wait_until(name_released, timeout=10, message="killed detached actor's name still resolves")


# --------------------------------------------------------------------------------------------------
# Concurrency


def test_async_actor_runs_calls_concurrently(ray):
    @ray.remote
    class AsyncWorker:
        def __init__(self):
            self.arrived = 0

        async def work(self, i, together):
            # Each call waits until `together` calls are inside at once: one at a time, the
            # first would time out instead.
            self.arrived += 1
            while self.arrived < together:
                await asyncio.sleep(0.01)
            return i

    w = AsyncWorker.remote()
    assert ray.get([w.work.remote(i, 5) for i in range(5)], timeout=30) == list(range(5))


def test_threaded_actor_max_concurrency(ray):
    @ray.remote(max_concurrency=4)
    class Threaded:
        def __init__(self):
            import threading

            # Four calls must be inside at once to pass it; fewer threads break it (an error).
            self.all_four = threading.Barrier(4, timeout=20)

        def block(self, i):
            self.all_four.wait()
            return i

    t = Threaded.remote()
    assert ray.get([t.block.remote(i) for i in range(4)], timeout=30) == list(range(4))


def test_default_actor_runs_one_call_at_a_time(ray):
    @ray.remote
    class Serial:
        def block(self):
            start = time.monotonic()
            time.sleep(0.3)  # room for a second call to overlap, were it let in
            return start, time.monotonic()

    s = Serial.remote()
    ray.get(s.block.remote(), timeout=30)
    spans = ray.get([s.block.remote(), s.block.remote()], timeout=30)
    assert peak_parallelism(spans) == 1, spans  # the calls' own times: one after the other


# --------------------------------------------------------------------------------------------------
# Death and restarts


def test_kill_then_call_raises_ray_actor_error(ray, exc):
    counter = _counter_class(ray).remote()
    assert ray.get(counter.increment.remote(), timeout=30) == 1
    ray.kill(counter)
    # Ray raises ActorDiedError (a RayActorError subclass): "The actor died unexpectedly before
    # finishing this task. ... The actor is dead because it was killed by `ray.kill`."
    # Ray's kill is asynchronous (it goes through the GCS while calls go straight to the actor),
    # so a call made at once may still run there; rayground's kill is done when it returns.
    attempts = 1 if ray.__name__ == "rayground" else 50
    with pytest.raises(exc.RayActorError) as info:
        for _ in range(attempts):
            ray.get(counter.increment.remote(), timeout=30)
    assert isinstance(info.value, exc.ActorDiedError)
    assert isinstance(info.value, exc.RayError)
    assert issubclass(exc.ActorDiedError, exc.RayActorError)
    assert "ray.kill" in str(info.value)


def test_exit_actor_inside_a_method(ray, exc):
    @ray.remote
    class Quitter:
        def ping(self):
            return "pong"

        def quit(self):
            ray.actor.exit_actor()

    q = Quitter.remote()
    assert ray.get(q.ping.remote(), timeout=30) == "pong"
    # Ray: the call that exits gets ActorDiedError too ("... Worker exit type:
    # INTENDED_USER_EXIT ... exit_actor() is called.").
    with pytest.raises(exc.RayActorError):
        ray.get(q.quit.remote(), timeout=30)
    with pytest.raises(exc.ActorDiedError) as info:
        ray.get(q.ping.remote(), timeout=30)
    assert "exit_actor()" in str(info.value)


def test_constructor_error_surfaces_on_the_first_method_call(ray, exc):
    @ray.remote
    class Broken:
        def __init__(self):
            raise ValueError("constructor failed")

        def ping(self):
            return "pong"

    b = Broken.remote()  # creation itself does not raise
    # Ray: ActorDiedError (a RayActorError, not a ValueError): "The actor died because of an
    # error raised in its creation task, ray::Broken.__init__() ... ValueError: constructor
    # failed".
    with pytest.raises(exc.RayActorError) as info:
        ray.get(b.ping.remote(), timeout=30)
    assert isinstance(info.value, exc.ActorDiedError)
    assert not isinstance(info.value, ValueError)
    assert "constructor failed" in str(info.value)
    assert "creation task" in str(info.value)
    with pytest.raises(exc.RayActorError):
        ray.get(b.ping.remote(), timeout=30)


def test_max_restarts_restarts_a_crashed_actor_with_fresh_state(ray, exc):
    @ray.remote(max_restarts=1)
    class Phoenix:
        def __init__(self):
            self.value = 0

        def increment(self):
            self.value += 1
            return self.value

        def pid(self):
            return os.getpid()

        def crash(self):
            os._exit(1)

    p = Phoenix.remote()
    assert ray.get([p.increment.remote() for _ in range(3)], timeout=30) == [1, 2, 3]
    first_pid = ray.get(p.pid.remote(), timeout=30)
    # Ray: the call running when the process dies fails with ActorUnavailableError (a
    # RayActorError subclass: "The actor ... is unavailable: ... The task may or may not have
    # been executed on the actor.") since a restart is still allowed.
    with pytest.raises(exc.RayActorError):
        ray.get(p.crash.remote(), timeout=60)
    # Ray: calls made while the actor restarts fail fast with ActorUnavailableError ("The actor
    # is temporarily unavailable: IOError: The actor is restarting.") unless max_task_retries is
    # set; once it is back (new process, constructor run again) calls work.
    deadline = time.monotonic() + 60
    while True:
        try:
            new_pid = ray.get(p.pid.remote(), timeout=30)
            break
        except exc.ActorUnavailableError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    assert new_pid != first_pid
    assert ray.get(p.increment.remote(), timeout=30) == 1

    # The one restart is used up: the next crash is final.
    with pytest.raises(exc.RayActorError):
        ray.get(p.crash.remote(), timeout=60)
    with pytest.raises(exc.ActorDiedError):
        ray.get(p.increment.remote(), timeout=60)


def test_max_task_retries_reruns_calls_lost_in_a_crash(ray, tmp_path):
    @ray.remote(max_restarts=1, max_task_retries=1)
    class CrashOnce:
        def __init__(self):
            self.value = 0

        def crash_once(self, path):
            marker = os.path.join(path, "crashed")
            if not os.path.exists(marker):
                with open(marker, "w"):
                    pass
                os._exit(1)
            return "survived"

        def increment(self):
            self.value += 1
            return self.value

    a = CrashOnce.remote()
    assert ray.get(a.increment.remote(), timeout=30) == 1
    crashing = a.crash_once.remote(str(tmp_path))
    pending = a.increment.remote()  # queued behind the crash
    # Both calls are retried on the restarted actor (fresh state).
    assert ray.get(crashing, timeout=60) == "survived"
    assert ray.get(pending, timeout=60) == 1


def test_max_pending_calls_limits_unfinished_calls_per_handle(ray, exc, tmp_path):
    @ray.remote
    class Gate:
        def wait_for(self, path):
            deadline = time.monotonic() + 60
            while not os.path.exists(path) and time.monotonic() < deadline:
                time.sleep(0.01)
            return "opened"

    gate = Gate.options(max_pending_calls=2).remote()
    marker = str(tmp_path / "open")
    first = [gate.wait_for.remote(marker), gate.wait_for.remote(marker)]
    with pytest.raises(exc.PendingCallsLimitExceeded, match="max_pending_calls"):
        gate.wait_for.remote(marker)
    open(marker, "w").close()
    assert ray.get(first, timeout=60) == ["opened", "opened"]
    # Finished calls no longer count.
    assert ray.get(gate.wait_for.remote(marker), timeout=60) == "opened"
    with pytest.raises(ValueError, match="max_pending_calls"):
        Gate.options(max_pending_calls=-2).remote()
