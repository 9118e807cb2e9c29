"""The shape of Ray Core's public surface: the top-level functions' signatures, the rows of
`nodes()`, and `get_runtime_context().is_canceled()`: the same on both backends (Ray 2.60 is the
reference the expectations were taken from)."""

from __future__ import annotations

import inspect
import os

import pytest

import rayground
from _needs import need_module

# Every public top-level function (rayground's __all__): code relies on their parameters' names,
# order, kinds and defaults, e.g. wait(refs, num_returns=2, timeout=0), cancel(ref, force=True).
SIGNATURES = sorted(
    name for name in rayground.__all__ if inspect.isfunction(getattr(rayground, name))
)

# The keys of a ray.nodes() row and their value types, as real Ray 2.60 gives them.
NODE_ROW = {
    "NodeID": str,
    "Alive": bool,
    "NodeManagerAddress": str,
    "NodeManagerHostname": str,
    "NodeManagerPort": int,
    "ObjectManagerPort": int,
    "ObjectStoreSocketName": str,
    "RayletSocketName": str,
    "MetricsExportPort": int,
    "MetricsAgentPort": int,
    "DashboardAgentListenPort": int,
    "NodeName": str,
    "RuntimeEnvAgentPort": int,
    "DeathReason": int,
    "DeathReasonMessage": str,
    "alive": bool,
    "Resources": dict,
    "Labels": dict,
}


def _parameters(fn) -> list[tuple[str, str, object]]:
    """(name, kind, default) of each public parameter; Ray's own `_private` ones (e.g.
    get's `_use_object_store`) are internal to Ray and left out."""
    return [
        (p.name, p.kind.name, p.default)
        for p in inspect.signature(fn).parameters.values()
        if not p.name.startswith("_")
    ]


@pytest.mark.ray
@pytest.mark.parametrize("name", SIGNATURES)
def test_top_level_signature_is_rays(name):
    real = need_module("ray", "real Ray is the `ray` extra: pip install -e '.[ray]'")
    assert _parameters(getattr(rayground, name)) == _parameters(getattr(real, name))


def test_nodes_rows_have_rays_keys_and_types(ray):
    [row] = ray.nodes()
    assert {key: type(value) for key, value in row.items()} == NODE_ROW
    assert row["Alive"] is True and row["alive"] is True
    assert row["DeathReason"] == 0 and row["DeathReasonMessage"] == ""
    assert row["Labels"]["ray.io/node-id"] == row["NodeID"]
    assert row["Resources"]["CPU"] == 2
    assert "node:__internal_head__" in row["Resources"]  # how Ray marks the head node
    # A port, or -1 where nothing listens (Ray's dashboard agent's without the dashboard).
    for key in NODE_ROW:
        if key.endswith("Port"):
            assert row[key] == -1 or 0 < row[key] < 65536, (key, row[key])


def test_is_canceled_in_a_driver_raises(ray):
    with pytest.raises(RuntimeError, match="only available when the process is a worker"):
        ray.get_runtime_context().is_canceled()


def test_is_canceled_in_a_task_after_cancel(ray, tmp_path, wait_until):
    started = str(tmp_path / "started")

    @ray.remote
    def fresh():
        return ray.get_runtime_context().is_canceled()

    @ray.remote
    def interrupted(started):
        import time

        try:
            open(started, "w").close()
            for _ in range(6000):  # short sleeps: Ray's interrupt lands between two of them
                time.sleep(0.01)
            return "not interrupted"
        except KeyboardInterrupt:  # what cancel() raises in a running task
            return ray.get_runtime_context().is_canceled()

    assert ray.get(fresh.remote(), timeout=60) is False
    ref = interrupted.remote(started)
    wait_until(lambda: os.path.exists(started), timeout=60, message="the call never started")
    ray.cancel(ref)
    # The task caught the interrupt and returned: its value is the result.
    assert ray.get(ref, timeout=60) is True


def test_sync_actor_call_sees_the_flag_and_gets_task_cancelled(ray, exc, tmp_path, wait_until):
    started = str(tmp_path / "started")

    @ray.remote
    class Worker:
        def poll(self, started):
            import time

            open(started, "w").close()
            for _ in range(6000):
                if ray.get_runtime_context().is_canceled():
                    return "stopped cleanly"
                time.sleep(0.01)
            return "never cancelled"

        def check(self):
            return ray.get_runtime_context().is_canceled()

    # A plain actor and a threaded one (max_concurrency > 1) behave the same.
    for concurrency in (1, 2):
        worker = Worker.options(max_concurrency=concurrency).remote()
        assert ray.get(worker.check.remote(), timeout=60) is False
        marker = f"{started}-{concurrency}"
        ref = worker.poll.remote(marker)
        wait_until(lambda: os.path.exists(marker), timeout=60, message="the call never started")
        ray.cancel(ref)
        with pytest.raises(exc.TaskCancelledError):
            ray.get(ref, timeout=60)
        # The flag belonged to the cancelled call; the actor lives on, the next call is fresh.
        assert ray.get(worker.check.remote(), timeout=60) is False


def test_is_canceled_in_an_async_actor_raises(ray):
    @ray.remote
    class AsyncWorker:
        async def check(self):
            return ray.get_runtime_context().is_canceled()

    with pytest.raises(RuntimeError, match="not supported in an async actor"):
        ray.get(AsyncWorker.remote().check.remote(), timeout=60)


def test_cancel_takes_an_object_ref_generator(ray, exc, tmp_path, wait_until):
    started = str(tmp_path / "stream-started")

    @ray.remote
    def stream(started):
        import time

        open(started, "w").close()
        for i in range(600):
            yield i
            time.sleep(0.1)

    gen = stream.remote(started)
    wait_until(lambda: os.path.exists(started), timeout=60, message="the stream never started")
    ray.cancel(gen)
    with pytest.raises(exc.TaskCancelledError):
        for ref in gen:
            ray.get(ref, timeout=60)


def test_init_refuses_an_unknown_option_as_ray_does(ray):
    # Checked before anything else, so the already-connected driver is untouched.
    with pytest.raises(RuntimeError, match=r"^Unknown keyword argument\(s\): num_cpu"):
        ray.init(num_cpu=2)
    with pytest.raises(RuntimeError, match="storage configuration has been removed"):
        ray.init(storage="/tmp/somewhere")
    assert ray.is_initialized()


def test_wait_takes_an_object_ref_generator(ray, tmp_path):
    go = str(tmp_path / "go")

    @ray.remote
    def stream(go):
        import os
        import time

        yield 0
        while not os.path.exists(go):
            time.sleep(0.01)
        yield 1

    @ray.remote
    def later(go):
        import os
        import time

        while not os.path.exists(go):
            time.sleep(0.01)
        return "done"

    gen = stream.remote(go)
    blocked = later.remote(go)
    # Ready when its next item is: the first comes at once, the other ref waits for the file.
    ready, not_ready = ray.wait([blocked, gen], timeout=60)
    assert ready == [gen] and not_ready == [blocked]
    assert ray.get(next(gen), timeout=60) == 0
    ready, not_ready = ray.wait([gen], timeout=0.2)  # item 1 cannot exist before the file
    assert ready == [] and not_ready == [gen]
    open(go, "w").close()
    ready, not_ready = ray.wait([gen, blocked], num_returns=2, timeout=60)
    assert ready == [gen, blocked] and not_ready == []
    assert ray.get(next(gen), timeout=60) == 1
    ready, _ = ray.wait([gen], timeout=60)  # the stream has ended: ready, and next() stops
    assert ready == [gen]
    with pytest.raises(StopIteration):
        next(gen)
