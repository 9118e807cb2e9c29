"""Direct actor calls (direct_calls.py): after a caller's first call, calls to a sync actor go
straight to its worker and results come straight back, while the head keeps the record.

These tests hold what users rely on through that: one caller's calls run in submission order
when some go directly and some through the head (ref arguments), errors, retries, cancellation
and a killed actor reach the caller, results of every size arrive, the state API sees every
call, and the actor's socket refuses a connection without the cluster's token.
"""

from __future__ import annotations

import itertools
import os
import signal
import socket
import struct
import time

import numpy as np
import pytest

import rayground as ray
from rayground._core import api, handshake, protocol
from rayground._core import client as client_module
from rayground.util.state import list_tasks


@pytest.fixture
def cluster():
    ray.init(num_cpus=2)
    yield api.connected_client()
    ray.shutdown()


@ray.remote
class Log:
    def __init__(self):
        self.seen = []

    def add(self, x=None):
        self.seen.append(x)
        return len(self.seen)

    def items(self):
        return list(self.seen)

    def pid(self):
        return os.getpid()

    def fail(self):
        raise KeyError("no such key")

    def nap(self, seconds):
        time.sleep(seconds)
        return "woke"

    def nap_until_cancelled(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if ray.get_runtime_context().is_canceled():
                return "saw the cancel"
            time.sleep(0.01)
        return "woke"

    def array(self, n):
        return np.arange(n, dtype=np.int64)

    def boxed(self):
        return [ray.put("inside")]


@ray.remote
def slow_value(x, seconds):
    time.sleep(seconds)
    return x


def _hold_bookkeeping(monkeypatch, seconds: float) -> None:
    """Hold this driver's registrations (and other queued messages) back for `seconds`."""
    api.connected_client().flush()  # what is queued now leaves as before
    monkeypatch.setattr(client_module, "_BOOKKEEPING_FLUSH", seconds)
    monkeypatch.setattr(client_module, "_FLUSH_INTERVAL", seconds)
    time.sleep(0.1)  # the I/O thread's current wait (made with the old interval) runs out


def _route(client, handle):
    return client.direct.routes[handle._actor_id]


def test_calls_after_the_first_go_directly_and_all_results_arrive(cluster) -> None:
    log = Log.remote()
    assert ray.get(log.add.remote(0)) == 1  # through the head: it says where the actor is
    assert [ray.get(log.add.remote(i)) for i in range(1, 200)] == list(range(2, 201))
    assert ray.get([log.add.remote(i) for i in range(2000)], timeout=60) == list(range(201, 2201))
    route = _route(cluster, log)
    assert route.channel is not None
    assert route.direct_sent >= 2000


def test_one_callers_calls_run_in_order_across_direct_and_head_paths(cluster) -> None:
    log = Log.remote()
    ray.get(log.add.remote("warm"))
    expected = ["warm"]
    refs = []
    for i in range(60):
        if i % 7 == 3:
            # A ref argument sends the call through the head; a slow one holds it there.
            arg = slow_value.remote(f"ref{i}", 0.05) if i % 2 else ray.put(f"ref{i}")
            refs.append(log.add.remote(arg))
            expected.append(f"ref{i}")
        else:
            refs.append(log.add.remote(i))
            expected.append(i)
    ray.get(refs, timeout=60)
    assert ray.get(log.items.remote()) == expected
    assert _route(cluster, log).direct_sent > 0


def test_an_error_in_a_direct_call_is_raised_as_the_users_exception(cluster) -> None:
    log = Log.remote()
    ray.get(log.add.remote())
    with pytest.raises(KeyError, match="no such key"):
        ray.get(log.fail.remote(), timeout=30)
    assert ray.get(log.add.remote(), timeout=30) == 2  # the actor lives on


def test_results_of_every_size_come_back_directly(cluster) -> None:
    log = Log.remote()
    ray.get(log.add.remote())
    small = ray.get(log.array.remote(10))
    large = ray.get(log.array.remote(2_000_000))  # 16 MB: a shared-memory segment
    assert small.tolist() == list(range(10))
    assert large[-1] == 1_999_999 and large.sum() == 1_999_999 * 2_000_000 // 2
    inner = ray.get(log.boxed.remote(), timeout=30)  # a result holding a ref
    assert ray.get(inner[0], timeout=30) == "inside"


def test_a_direct_result_can_feed_a_task(cluster) -> None:
    log = Log.remote()
    ray.get(log.add.remote())
    ref = log.add.remote()
    assert ray.get(slow_value.remote(ref, 0), timeout=30) == 2


def test_the_state_api_records_every_direct_call(cluster, wait_until) -> None:
    log = Log.remote()
    pid = ray.get(log.pid.remote())
    ray.get([log.add.remote(i) for i in range(50)])

    def finished():
        rows = [t for t in list_tasks(limit=10_000) if t["name"].endswith("Log.add")]
        return len(rows) == 50 and all(t["state"] == "FINISHED" for t in rows) and rows

    rows = wait_until(finished, timeout=10)
    assert {t["worker_pid"] for t in rows} == {pid}


def test_direct_calls_are_recorded_with_the_times_they_ran(cluster, wait_until) -> None:
    # The head hears of direct calls in batches, after they ran; the record (and so the
    # timeline) must still show a sync actor running them one after another, each for as long
    # as it took, not a clump of overlapping calls stamped when the batch arrived.
    events: list[tuple] = []
    unsubscribe = ray.util.state.subscribe(lambda first, batch, lost: events.extend(batch))
    try:
        log = Log.remote()
        ray.get(log.pid.remote())  # the first call goes through the head
        refs = [log.nap.remote(0.02) for _ in range(8)]
        assert all(r._id in cluster._direct for r in refs)  # the rest go directly
        assert ray.get(refs, timeout=30) == ["woke"] * 8
        ids = [r.task_id().hex() for r in refs]

        def recorded():
            by_id = {t["task_id"]: t for t in list_tasks(limit=10_000)}
            rows = [by_id.get(i) for i in ids]
            return all(r is not None and r["state"] == "FINISHED" for r in rows) and rows

        rows = wait_until(recorded, timeout=10)
        spans = []
        for row in rows:
            times = dict(row["events"])
            assert times["PENDING_ARGS_AVAIL"] <= times["RUNNING"] <= times["FINISHED"]
            assert times["FINISHED"] - times["RUNNING"] >= 0.019  # the call's own 20 ms nap
            spans.append((times["RUNNING"], times["FINISHED"]))
        for (_, end), (start, _) in itertools.pairwise(spans):
            assert start >= end  # one at a time, in submission order
        # Subscribers get the same start: the end event carries it.
        # (Events carry the runtime's own short ids; the state API shows them in hex.)
        raw = [r.task_id()._id for r in refs]
        finished = wait_until(
            lambda: (
                {e[3]: e for e in events if e[3] in raw and e[4] == "FINISHED"}
                if sum(1 for e in events if e[3] in raw and e[4] == "FINISHED") == 8
                else None
            ),
            timeout=10,
        )
        for task, (start, end) in zip(raw, spans, strict=True):
            event = finished[task]
            assert event[1] == end and event[5]["started"] == start
    finally:
        unsubscribe()


_DYING_CALLER = """
import os, signal, sys, time
import rayground as ray
from rayground._core import api
from rayground._core import client as client_module

ray.init(address=sys.argv[1])
log = ray.get_actor("shared_log", namespace="direct-test")
ray.get([log.add.remote() for _ in range(3)])  # the first goes through the head
client = api.connected_client()
client.flush()  # then hold every registration back: this process dies before sending them
client_module._BOOKKEEPING_FLUSH = client_module._FLUSH_INTERVAL = 600.0
time.sleep(0.1)
refs = [log.array.remote(2_000_000) for _ in range(3)]  # 16 MB results: shared memory
assert all(r._id in client._direct for r in refs), "not sent directly"
assert all(len(a) == 2_000_000 for a in ray.get(refs, timeout=30))
print(" ".join(r._id for r in refs), flush=True)  # segment names: the runtime's ids
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_results_of_a_dead_callers_unregistered_calls_are_freed(cluster, wait_until) -> None:
    # A caller that dies between sending direct calls and registering them leaves the head
    # with the worker's reports of calls it never heard of: their results must not stay in
    # shared memory for the rest of the session.
    import subprocess
    import sys

    from rayground._core import object_store

    log = Log.options(name="shared_log", namespace="direct-test").remote()
    ray.get(log.pid.remote())
    child = subprocess.run(
        [sys.executable, "-c", _DYING_CALLER, cluster.address],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    oids = child.stdout.split()
    assert len(oids) == 3, child.stderr
    paths = [object_store.segment_path(cluster.session["shm_dir"], oid) for oid in oids]
    wait_until(lambda: not any(os.path.exists(p) for p in paths), timeout=15)
    assert ray.get(log.add.remote("after"), timeout=30) == 4  # the actor carries on


def test_a_call_after_kill_fails_even_with_a_direct_route(cluster) -> None:
    # kill() goes through the head; a direct call right after it could reach the worker before
    # it dies and return a value. The killer's later calls take the head path (which has the
    # kill first). Without that, 2 of 60 rounds here returned a value.
    for _ in range(40):
        log = Log.remote()
        assert ray.get([log.add.remote() for _ in range(3)], timeout=30) == [1, 2, 3]
        assert _route(cluster, log).channel is not None  # calls now go directly
        ray.kill(log)
        with pytest.raises(ray.exceptions.ActorDiedError):
            ray.get(log.add.remote(), timeout=30)


def test_cancelling_a_running_direct_call(cluster) -> None:
    # As in Ray, cancel() does not interrupt a sync actor method: it sets the flag the method
    # reads with is_canceled(), and the call's result is a TaskCancelledError.
    log = Log.remote()
    ray.get(log.add.remote())
    ref = log.nap_until_cancelled.remote(30)
    time.sleep(0.5)
    ray.cancel(ref)
    with pytest.raises(ray.exceptions.TaskCancelledError):
        ray.get(ref, timeout=20)
    assert ray.get(log.add.remote(), timeout=20) == 2


def test_a_killed_actor_fails_the_direct_call_in_flight(cluster) -> None:
    log = Log.remote()
    pid = ray.get(log.pid.remote())
    ref = log.nap.remote(30)
    time.sleep(0.5)
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(ray.exceptions.RayActorError):
        ray.get(ref, timeout=20)


def test_a_restarted_actor_retries_the_direct_call_and_takes_new_ones(cluster) -> None:
    log = Log.options(max_restarts=1, max_task_retries=1).remote()
    pid = ray.get(log.pid.remote())
    ref = log.nap.remote(1.0)
    time.sleep(0.3)
    os.kill(pid, signal.SIGKILL)
    assert ray.get(ref, timeout=30) == "woke"  # run again on the restarted actor
    new_pid = ray.get(log.pid.remote(), timeout=30)
    assert new_pid != pid
    assert [ray.get(log.add.remote(i), timeout=30) for i in range(20)] == list(range(1, 21))
    assert _route(cluster, log).channel is not None


def test_tasks_calling_one_actor_all_get_their_answers(cluster) -> None:
    log = Log.remote()

    @ray.remote
    def caller(actor, n):
        return [ray.get(actor.add.remote()) for _ in range(n)]

    results = ray.get([caller.remote(log, 100) for _ in range(4)], timeout=60)
    flat = sorted(x for r in results for x in r)
    assert flat == list(range(1, 401))
    for r in results:
        assert r == sorted(r)  # each caller's calls ran in its order


def test_the_actor_socket_refuses_a_connection_without_the_token(cluster) -> None:
    log = Log.remote()
    ray.get(log.add.remote())
    address = _route(cluster, log).address
    assert address and address.startswith("ipc://")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(address[len("ipc://") :])
    # It proves nothing: the worker's answer is checked by no one, the proof is made up.
    challenge = handshake.PeerHandshake(b"0" * 64).challenge()
    sock.sendall(struct.pack("<I", len(challenge)) + challenge)
    answer = sock.recv(4 + handshake.ANSWER_LEN)
    assert len(answer) == 4 + handshake.ANSWER_LEN
    proof = b"\0" * handshake.PROOF_LEN
    info = protocol.dumps({"client_id": "intruder"})
    sock.sendall(struct.pack("<I", len(proof)) + proof + struct.pack("<I", len(info)) + info)
    assert sock.recv(1) == b""  # dropped
    sock.close()
    assert ray.get(log.add.remote(), timeout=20) == 2


def test_the_actor_socket_refuses_an_oversized_frame_before_the_handshake(cluster) -> None:
    log = Log.remote()
    ray.get(log.add.remote())
    address = _route(cluster, log).address
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(address[len("ipc://") :])
    sock.sendall(struct.pack("<I", 1 << 30) + b"x" * 4096)  # no challenge is that long
    assert sock.recv(1) == b""  # dropped, not buffered up to 1 GiB
    sock.close()
    assert ray.get(log.add.remote(), timeout=20) == 2


def test_direct_calls_can_be_turned_off(monkeypatch) -> None:
    monkeypatch.setenv("RAYGROUND_DIRECT_CALLS", "0")
    ray.init(num_cpus=1)
    try:
        log = Log.remote()
        assert [ray.get(log.add.remote()) for _ in range(20)] == list(range(1, 21))
        route = _route(api.connected_client(), log)
        assert route.channel is None and route.direct_sent == 0
    finally:
        ray.shutdown()


def test_a_call_that_ends_before_the_head_hears_of_it_is_recorded(cluster, monkeypatch) -> None:
    # Hold this driver's registrations back: the worker's `done` reaches the head first and
    # waits there for the registration.
    _hold_bookkeeping(monkeypatch, 0.5)
    log = Log.remote()
    ray.get([log.add.remote() for _ in range(3)])
    refs = [log.add.remote(i) for i in range(5)]
    assert all(r._id in cluster._direct for r in refs)  # sent directly
    assert ray.get(refs, timeout=20) == [4, 5, 6, 7, 8]
    ids = {r.task_id().hex() for r in refs}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = [t for t in list_tasks(limit=10_000) if t["task_id"] in ids]
        if len(rows) == 5 and all(t["state"] == "FINISHED" for t in rows):
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"direct calls not recorded as finished: {rows}")


def test_a_call_whose_worker_died_before_the_head_heard_of_it_is_retried(
    cluster, monkeypatch
) -> None:
    log = Log.options(max_restarts=1, max_task_retries=1).remote()
    pid = ray.get(log.pid.remote())
    ray.get([log.add.remote() for _ in range(3)])
    _hold_bookkeeping(monkeypatch, 1.0)
    ref = log.nap.remote(0.5)
    assert ref._id in cluster._direct  # sent directly
    time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)  # the head sees the death before the call's registration
    assert ray.get(ref, timeout=30) == "woke"


def test_refs_in_a_result_that_ends_before_its_registration_stay_alive(
    cluster, monkeypatch
) -> None:
    log = Log.remote()
    ray.get([log.add.remote() for _ in range(3)])
    # The worker's `done` and its own release of the inner ref reach the head long before this
    # driver registers the call: the head must keep the inner object for the result.
    _hold_bookkeeping(monkeypatch, 0.5)
    ref = log.boxed.remote()
    assert ref._id in cluster._direct  # sent directly
    inner = ray.get(ref, timeout=30)
    assert ray.get(inner[0], timeout=30) == "inside"
