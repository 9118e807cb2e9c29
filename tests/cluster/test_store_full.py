"""A store that fills spills to disk and restores on get; only when the disk is full too does the
caller get an out-of-memory error that says how much it asked for and how much is free.

The "disk" is bounded with RAYGROUND_SPILL_LIMIT (bytes the store may spill), so the test needs
no small filesystem of its own and runs the same on any machine. 32 MB of memory and 20 MB of
disk hold five objects of 8 MB (three in memory, two spilled); the sixth does not fit.
"""

from __future__ import annotations

import json
import re

MB = 1_000_000

SCRIPT = """
import json, re
import numpy as np
import rayground as ray
from rayground.util.state import list_objects

ray.init(num_cpus=1, object_store_memory=32 * 10**6)
out = {}

# 1. Over capacity: older objects go to disk, and every one comes back intact on get.
refs = [ray.put(np.full(1_000_000, i, dtype=np.float64)) for i in range(5)]  # 5 x 8 MB
rows = {r["object_id"]: r for r in list_objects()}
out["spilled"] = sum(rows[r.hex()]["spilled"] for r in refs)
out["restored"] = all(
    ray.get(r)[0] == i and ray.get(r).shape == (1_000_000,) for i, r in enumerate(refs)
)

# 2. Memory and the spill allowance (20 MB) both full: the put itself fails, clearly.
try:
    for i in range(10):
        refs.append(ray.put(np.zeros(1_000_000)))
    out["error"] = None
except ray.exceptions.ObjectStoreFullError as exc:
    out["error"] = str(exc)
out["puts_before_error"] = len(refs)

# 3. A task whose result cannot be stored fails with the same error, not a pickling one.
@ray.remote
def make_big():
    return np.ones(2_000_000)  # 16 MB

try:
    ray.get(make_big.remote())
    out["task_error"] = None
except ray.exceptions.ObjectStoreFullError as exc:
    out["task_error"] = str(exc)

# 4. Dropping references makes room again.
del refs
import gc; gc.collect()
ok = ray.put(np.full(1_000_000, 7.0))
out["after_free"] = float(ray.get(ok)[0])
print("RESULT " + json.dumps(out))
"""


def test_spill_then_out_of_memory_only_when_the_disk_is_full(driver):
    result = driver(SCRIPT, timeout=90, RAYGROUND_SPILL_LIMIT=str(20 * MB))
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, result.stderr[-3000:]
    out = json.loads(lines[0][len("RESULT ") :])
    assert out["spilled"] == 2 and out["restored"]
    assert out["puts_before_error"] == 5, out
    error = out["error"]
    assert error is not None, "the store never reported it was full"
    asked = re.search(r"([\d,]+) bytes \(8\.0 MB\) were asked for", error)
    free = re.search(r"only ([\d,]+) bytes of 32\.0 MB are free in shared memory", error)
    room = re.search(r"([\d,]+) bytes are left for spilling to disk", error)
    assert asked and free and room, error
    need, have, disk = (int(m.group(1).replace(",", "")) for m in (asked, free, room))
    assert have < need and disk < need and need >= 8 * MB
    assert "(16.0 MB) were asked for" in (out["task_error"] or "")
    assert out["after_free"] == 7.0


def test_unlimited_spill_never_raises(driver):
    """Without a spill limit the disk takes what memory cannot: puts beyond capacity spill, and
    arguments of queued tasks that fill memory (they cannot be spilled) go straight to disk."""
    script = """
import numpy as np
import rayground as ray
ray.init(num_cpus=1, object_store_memory=16 * 10**6)
refs = [ray.put(np.full(1_000_000, i, dtype=np.float64)) for i in range(8)]  # 64 MB
assert [float(ray.get(r)[0]) for r in refs] == [float(i) for i in range(8)]
print("SPILLED", sum(o["spilled"] for o in ray.util.state.list_objects()))


@ray.remote
def total(a):
    return float(a.sum())


big = np.ones(1_500_000)  # 12 MB, passed by value: each call stores its own copy
print("TOTALS", ray.get([total.remote(big) for _ in range(4)]))
"""
    result = driver(script, timeout=90)
    assert "SPILLED" in result.stdout, result.stderr[-3000:]
    assert int(result.stdout.split("SPILLED")[1].split()[0]) >= 4
    assert "TOTALS [1500000.0, 1500000.0, 1500000.0, 1500000.0]" in result.stdout
