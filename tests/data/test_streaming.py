"""Execution on rayground: a dataset several times the object store streams through it with
memory bounded; blocks are read from shared memory without a copy; actor pools construct the
class once per actor; operators show in the state API under their names."""

from __future__ import annotations

import os

import numpy as np

MB = 1024 * 1024
INIT_KWARGS = {"object_store_memory": 96 * MB}


def _make_rows(batch):
    # 4 MB per block: 1 row of 512 Ki float64.
    n = len(batch["id"])
    return {"id": batch["id"], "x": np.ones((n, 512 * 1024))}


def test_larger_than_store_dataset_streams_with_bounded_memory(rg):
    from rayground.util.state import list_nodes

    ctx = rg.data.DataContext.get_current()
    capacity = list_nodes()[0]["object_store_capacity"]
    blocks = 120  # 120 x 4 MB = 480 MB: five times the store
    ds = rg.data.range(blocks, override_num_blocks=blocks).map_batches(_make_rows)
    peak_used, peak_spilled, rows, total_bytes = 0, 0, 0, 0
    for batch in ds.iter_batches(batch_size=None):
        rows += len(batch["id"])
        total_bytes += batch["x"].nbytes
        node = list_nodes()[0]
        peak_used = max(peak_used, node["object_store_used"])
        peak_spilled = max(peak_spilled, node["spilled_bytes"])
    assert rows == blocks
    assert total_bytes >= 4 * capacity
    # In flight: at most 2 x CPUs tasks' outputs plus the block being consumed.
    in_flight = ctx.max_tasks_in_flight_per_operator or 2 * 2
    assert peak_used <= (in_flight + 2) * 4 * MB + MB
    assert peak_spilled == 0


def _mapping_of(address: int) -> str:
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, *rest = line.split()
            lo, hi = (int(x, 16) for x in span.split("-"))
            if lo <= address < hi:
                return rest[-1] if len(rest) >= 5 else ""
    return ""


def test_blocks_are_read_from_shared_memory_without_a_copy(rg):
    ds = rg.data.range(1, override_num_blocks=1).map_batches(_make_rows).materialize()
    (ref,) = ds.to_arrow_refs()
    table = rg.get(ref)
    column = table.column("x").chunk(0)
    data_buffer = (
        column.storage.buffers()[-1] if hasattr(column, "storage") else column.buffers()[-1]
    )
    where = _mapping_of(data_buffer.address)
    # The 4 MB tensor column lies in the store's shared-memory segment, mapped, not copied.
    assert where.startswith("/dev/shm/rayground"), where


def test_actor_pool_constructs_once_per_actor(rg, tmp_path):
    from rayground.util.state import list_actors

    marker_dir = str(tmp_path)

    class Model:
        def __init__(self, where):
            open(os.path.join(where, f"init-{os.getpid()}"), "w").close()

        def __call__(self, batch):
            return {"id": batch["id"], "pid": np.full(len(batch["id"]), os.getpid())}

    before = len(list_actors(filters=[("class_name", "=", "MapWorker")]))
    out = (
        rg.data.range(60, override_num_blocks=12)
        .map_batches(Model, fn_constructor_args=(marker_dir,), concurrency=2, num_cpus=0.5)
        .take_all()
    )
    assert sorted(r["id"] for r in out) == list(range(60))
    pids = {r["pid"] for r in out}
    inits = os.listdir(marker_dir)
    assert len(inits) == 2  # one constructor call per actor, not per batch
    assert {int(n.split("-")[1]) for n in inits} == pids
    actors = list_actors(filters=[("class_name", "=", "MapWorker")])
    assert len(actors) - before == 2


def test_tasks_are_named_by_fused_operator(rg):
    from rayground.util.state import list_tasks

    def tag(batch):
        return batch

    rg.data.range(8, override_num_blocks=4).map_batches(tag).filter(lambda r: True).take_all()
    names = {t["name"] for t in list_tasks()}
    assert "ReadRange->MapBatches(tag)->Filter(<lambda>)" in names
