"""Soak: 20,000 tasks and 1,000 actor calls while workers are SIGKILLed at random.

Every result is checked; retries (tasks) and restarts (the actor) must hide every kill. At the end
the driver shuts down and nothing may be left: no head, no worker, no shared memory. The driver
is its own process; the whole run is bounded by one deadline.
"""

from __future__ import annotations

import json
import os

from _procs import process_alive, wait_until

SOAK = """
import json, os, random, signal, threading, time
import rayground as ray
from rayground.util.state import list_actors, list_tasks, list_workers
from rayground._core.context import current_client

ray.init(num_cpus=2)
client = current_client()
head_pid, shm_dir = client.head_pid, client.session["shm_dir"]


@ray.remote(max_retries=10)
def work(i):
    if i % 50 == 0:
        time.sleep(0.002)  # some tasks run long enough to be killed mid-way
    return i * i


@ray.remote(max_retries=10)
def plus(a, b):
    return a + b


@ray.remote(max_restarts=-1, max_task_retries=-1)
class Adder:
    def add(self, x):
        return x + 1000


adder = Adder.remote()
stop = threading.Event()
kills = {"task_workers": 0, "actor": 0}
seen = set()


def killer():
    rng = random.Random(7)
    while not stop.wait(0.03):
        try:
            workers = list_workers()
        except Exception:
            continue
        busy = [w for w in workers if w["state"] in ("busy", "actor") and w["pid"] not in seen]
        if not busy:
            continue
        victim = rng.choice(busy)
        seen.add(victim["pid"])
        try:
            os.kill(victim["pid"], signal.SIGKILL)
        except ProcessLookupError:
            continue
        kills["actor" if victim["state"] == "actor" else "task_workers"] += 1


thread = threading.Thread(target=killer, daemon=True)
started = time.monotonic()
thread.start()
results, calls = [], []
for batch in range(10):  # 10 x 2,000 tasks; 1,000 actor calls spread over them
    base = batch * 2000
    refs = [work.remote(base + i) for i in range(1900)]
    refs += [plus.remote(refs[i], base + i) for i in range(100)]  # results as arguments
    calls += [adder.add.remote(batch * 100 + j) for j in range(100)]
    results.append((base, ray.get(refs, timeout=120)))
actor_results = ray.get(calls, timeout=120)
stop.set()
thread.join(timeout=10)
elapsed = time.monotonic() - started

bad = 0
for base, got in results:
    expect = [(base + i) ** 2 for i in range(1900)]
    expect += [(base + i) ** 2 + base + i for i in range(100)]
    bad += sum(1 for g, e in zip(got, expect) if g != e)
bad_calls = sum(1 for j, got in enumerate(actor_results) if got != j + 1000)
retried = sum(1 for t in list_tasks(limit=100_000) if t["attempt_number"] > 0)
restarts = [a["num_restarts"] for a in list_actors() if a["class_name"] == "Adder"][0]
print("SOAK " + json.dumps({
    "tasks": sum(len(g) for _, g in results), "calls": len(actor_results), "bad": bad,
    "bad_calls": bad_calls, "kills": kills, "retried": retried, "restarts": restarts,
    "elapsed": round(elapsed, 1), "head_pid": head_pid, "shm_dir": shm_dir,
}), flush=True)
ray.shutdown()
"""


def test_soak_under_random_worker_kills(driver):
    result = driver(SOAK, timeout=240)
    lines = [line for line in result.stdout.splitlines() if line.startswith("SOAK ")]
    assert result.returncode == 0 and lines, result.stderr[-4000:]
    out = json.loads(lines[0][5:])
    assert out["tasks"] == 20_000 and out["calls"] == 1_000
    assert out["bad"] == 0 and out["bad_calls"] == 0
    # The kills really happened and really hit work: retries and restarts hid them.
    assert out["kills"]["task_workers"] >= 10, out
    assert out["retried"] >= 1, out
    if out["kills"]["actor"]:
        assert out["restarts"] >= 1, out
    print(f"soak: {out}")
    # Nothing left behind once the driver has shut down.
    wait_until(lambda: not process_alive(out["head_pid"]), timeout=15)
    wait_until(lambda: not os.path.exists(out["shm_dir"]), timeout=15)
