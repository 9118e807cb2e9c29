"""Object store, reference counting, spilling, state API and event stream (rayground only)."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

import rayground as ray
from rayground.util import state


@pytest.fixture(scope="module")
def cluster():
    ray.init(num_cpus=2, num_gpus=2, resources={"widget": 1}, object_store_memory=64 * 1024**2)
    yield ray
    ray.shutdown()


def _client():
    from rayground._core import context

    return context.current_client()


def test_get_of_array_is_a_read_only_view_onto_shared_memory(cluster):
    arr = np.arange(1_000_000, dtype=np.float64)
    ref = ray.put(arr)
    out = ray.get(ref)
    assert out.flags.writeable is False
    assert out.flags.owndata is False  # a view, not a copy
    np.testing.assert_array_equal(out, arr)
    shm_dir = _client().session["shm_dir"]
    assert ref._id in os.listdir(shm_dir)  # segments are named by the runtime's own id


def test_small_objects_travel_inline(cluster):
    ref = ray.put({"a": 1})
    row = next(o for o in state.list_objects() if o.object_id == ref.hex())
    assert row.where == "inline"
    assert ray.get(ref) == {"a": 1}


def test_put_once_pass_to_many_tasks_stores_one_copy(cluster):
    arr = np.ones(2_000_000)  # 16 MB

    @ray.remote
    def total(a):
        return float(a.sum())

    before = {o.object_id for o in state.list_objects()}
    ref = ray.put(arr)
    assert ray.get([total.remote(ref) for _ in range(8)]) == [2_000_000.0] * 8
    new_big = [
        o for o in state.list_objects() if o.object_id not in before and o.object_size > 1_000_000
    ]
    assert [o.object_id for o in new_big] == [ref.hex()]


def test_object_is_freed_when_last_ref_is_dropped(cluster, wait_until):
    ref = ray.put(np.zeros(500_000))
    oid = ref.hex()
    path = os.path.join(_client().session["shm_dir"], ref._id)
    assert os.path.exists(path)
    del ref
    wait_until(
        lambda: oid not in {o.object_id for o in state.list_objects()},
        timeout=10,
        message="object still listed after its only ref was dropped",
    )
    assert not os.path.exists(path)


def test_workers_let_go_of_freed_objects_they_read(cluster, wait_until):
    """Workers keep mappings of large arguments for the next task that reads them; once the
    object is freed, an idle worker drops its mapping within seconds, so the memory goes back."""

    @ray.remote
    def total(a):
        return float(a.sum())

    ref = ray.put(np.ones(2_000_000))
    assert ray.get([total.remote(ref) for _ in range(6)]) == [2_000_000.0] * 6
    oid = ref._id  # the segment's file name, as /proc/<pid>/maps shows it
    pids = [w["pid"] for w in state.list_workers()]

    def mapped_somewhere() -> bool:
        for pid in pids:
            try:
                with open(f"/proc/{pid}/maps") as f:
                    if oid in f.read():
                        return True
            except OSError:
                pass
        return False

    assert mapped_somewhere()  # cached while the object lives
    del ref
    wait_until(lambda: not mapped_somewhere(), timeout=10, message="a worker still maps it")


def test_nested_ref_keeps_inner_object_alive(cluster, wait_until):
    inner = ray.put(np.arange(300_000))
    inner_id = inner.hex()
    outer = ray.put([inner])
    del inner
    time.sleep(0.2)
    (got,) = ray.get(outer)
    assert got.hex() == inner_id
    assert ray.get(got)[-1] == 299_999
    del got, outer
    wait_until(
        lambda: inner_id not in {o.object_id for o in state.list_objects()},
        timeout=10,
        message="inner object not freed after the outer value and all refs were dropped",
    )


def test_store_spills_to_disk_when_full_and_restores_on_get(cluster):
    arrays = [np.full(3_000_000, i, dtype=np.float64) for i in range(4)]  # 4 x 24 MB > 64 MB
    refs = [ray.put(a) for a in arrays]
    rows = {o.object_id: o for o in state.list_objects()}
    assert any(rows[r.hex()].spilled for r in refs)
    for i, ref in enumerate(refs):
        out = ray.get(ref)
        assert out[0] == i and out.shape == (3_000_000,)


def test_gpu_request_sets_cuda_visible_devices(cluster):
    @ray.remote(num_gpus=1)
    def visible():
        time.sleep(0.3)
        return os.environ.get("CUDA_VISIBLE_DEVICES"), ray.get_gpu_ids()

    a, b = ray.get([visible.remote(), visible.remote()])
    assert {a[0], b[0]} == {"0", "1"}
    assert a[1] == [int(a[0])]


def test_actor_with_a_gpu_sees_it_in_every_method(cluster):
    @ray.remote(num_gpus=1)
    class Trainer:
        def devices(self):
            return ray.get_gpu_ids(), os.environ.get("CUDA_VISIBLE_DEVICES")

    trainer = Trainer.remote()
    ids, visible = ray.get(trainer.devices.remote())
    assert len(ids) == 1 and visible == str(ids[0])
    assert ray.get(trainer.devices.remote()) == (ids, visible)
    ray.kill(trainer)


def test_custom_resource_limits_concurrency(cluster):
    @ray.remote(resources={"widget": 1})
    def hold():
        start = time.time()
        time.sleep(0.3)
        return start, time.time()

    (s1, e1), (s2, e2) = ray.get([hold.remote(), hold.remote()])
    assert s2 >= e1 - 0.05 or s1 >= e2 - 0.05  # never overlapped


def test_infeasible_request_is_reported_and_times_out(cluster, capfd):
    @ray.remote(num_gpus=8)
    def too_big():
        return 1

    ref = too_big.remote()
    with pytest.raises(ray.exceptions.GetTimeoutError):
        ray.get(ref, timeout=1.0)
    err = capfd.readouterr().err
    assert "too_big" in err and "'GPU': 8" in err
    row = next(t for t in state.list_tasks() if t.task_id == ref.task_id().hex())
    assert row.infeasible and row.state == "PENDING_NODE_ASSIGNMENT"
    ray.cancel(ref)


def test_list_tasks_records_states_dependencies_and_workers(cluster):
    @ray.remote
    def source():
        return 1

    @ray.remote
    def sink(x):
        return x + 1

    a = source.remote()
    b = sink.remote(a)
    assert ray.get(b) == 2
    rows = {t.task_id: t for t in state.list_tasks()}
    sink_row = rows[b.task_id().hex()]
    assert sink_row.state == "FINISHED"
    assert sink_row.depends_on == [a.hex()]
    assert sink_row.worker_pid and sink_row.name == "sink"
    states = [s for s, _ in sink_row.events]
    assert states[-2:] == ["RUNNING", "FINISHED"]
    finished = state.list_tasks(filters=[("state", "=", "FINISHED")])
    assert all(t.state == "FINISHED" for t in finished)


def test_failed_task_records_its_error(cluster):
    @ray.remote(max_retries=0)
    def broken():
        raise KeyError("missing-key")

    ref = broken.remote()
    with pytest.raises(KeyError):
        ray.get(ref)
    row = next(t for t in state.list_tasks() if t.task_id == ref.task_id().hex())
    assert row.state == "FAILED" and "missing-key" in row.error_message


def test_summarize_and_nodes_and_actors(cluster):
    @ray.remote
    class Box:
        def ping(self):
            return "pong"

    box = Box.options(name="summary-box").remote()
    assert ray.get(box.ping.remote()) == "pong"
    summary = state.summarize_tasks()
    assert summary["cluster"]["summary"]["Box.ping"]["state_counts"]["FINISHED"] >= 1
    actors = state.list_actors(filters=[("name", "=", "summary-box")])
    assert len(actors) == 1 and actors[0].state == "ALIVE" and actors[0].class_name.endswith("Box")
    (node,) = state.list_nodes()
    assert node.state == "ALIVE" and node.resources_total["CPU"] == 2
    ray.kill(box)


def test_bad_filter_is_explained(cluster):
    with pytest.raises(ValueError, match="cannot filter on 'colour'"):
        state.list_tasks(filters=[("colour", "=", "red")])


def test_event_stream_follows_task_states(cluster, wait_until):
    seen: list[tuple] = []
    lock = threading.Lock()

    def handler(first_seq, events, lost):
        with lock:
            seen.extend(events)

    stop = state.subscribe(handler)
    try:

        @ray.remote
        def tick():
            return 1

        ref = tick.remote()
        ray.get(ref)
        tid = ref.task_id()._id  # events carry the runtime's own ids (the state API: hex)

        def has_finished():
            with lock:
                return any(e[2] == "task" and e[3] == tid and e[4] == "FINISHED" for e in seen)

        wait_until(has_finished, timeout=10, message="no FINISHED event for the task")
        with lock:
            task_states = [e[4] for e in seen if e[2] == "task" and e[3] == tid]
            seqs = [e[0] for e in seen]
        assert task_states.index("RUNNING") < task_states.index("FINISHED")
        assert seqs == sorted(seqs)
    finally:
        stop()
