"""The `rayground` command line against a real standalone cluster (separate processes).

What a user relies on: `start --head` prints how to connect and stop; `status`, `list`, `memory`
and `timeline` show what drivers did without becoming drivers themselves; `stop` leaves nothing
behind; mistakes are one line, never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from _cluster import child_env, cli

from _procs import process_alive, wait_until

WORKLOAD = """
import sys, time
import numpy as np
import rayground as ray

ray.init(address=sys.argv[1] if len(sys.argv) > 1 else "auto")


@ray.remote
def square(x):
    time.sleep(0.02)
    return x * x


@ray.remote
def fails():
    raise ValueError("on purpose")


assert ray.get([square.remote(i) for i in range(6)]) == [i * i for i in range(6)]
try:
    ray.get(fails.remote())
except ray.exceptions.RayTaskError:
    pass
big = ray.put(np.zeros(1_000_000))  # 8 MB in shared memory
inner = ray.put(np.ones(200_000))
box = ray.put([inner])  # holds `inner`'s ref: CAPTURED_IN_OBJECT
print("READY", flush=True)
sys.stdin.readline()  # keep the refs alive until the test has looked
"""


@pytest.fixture
def holding_driver(standalone, tmp_path: Path):
    """A driver that ran tasks and holds objects until the test ends."""
    script = tmp_path / "holder.py"
    script.write_text(WORKLOAD)
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]
        assert line.strip() == "READY", proc.stderr.read()  # type: ignore[union-attr]
        yield proc
    finally:
        if proc.poll() is None:
            proc.stdin.close()  # type: ignore[union-attr]
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


def test_start_prints_address_token_file_and_how_to_stop(standalone):
    out = standalone.start_output
    host, port = standalone.address.rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    assert "rayground stop" in out and 'ray.init(address="auto")' in out
    assert oct(os.stat(standalone.token_file).st_mode & 0o777) == "0o600"
    assert process_alive(standalone.head_pid)


def test_status_shows_resources_tasks_and_store(standalone, holding_driver):
    result = cli("status")
    assert result.returncode == 0, result.stderr
    assert f"cluster at {standalone.address}" in result.stdout
    assert "CPU 0/2" in result.stdout
    assert "FINISHED" in result.stdout and "FAILED 1" in result.stdout
    data = json.loads(cli("status", "--json").stdout)
    assert data["store_used"] >= 8_000_000
    assert data["nodes"][0]["resources_total"]["CPU"] == 2


def test_status_over_tcp_with_the_token(standalone):
    result = cli("status", "--address", standalone.address, RAYGROUND_TOKEN=standalone.token)
    assert result.returncode == 0, result.stderr
    assert "node " in result.stdout


def test_list_filters_and_json(standalone, holding_driver):
    result = cli("list", "tasks", "--filter", "state=FAILED")
    assert result.returncode == 0, result.stderr
    assert "fails" in result.stdout and "square" not in result.stdout
    rows = json.loads(cli("list", "tasks", "--filter", "name=square", "--json").stdout)
    assert len(rows) >= 6 and {r["state"] for r in rows} == {"FINISHED"}
    rows = json.loads(cli("list", "tasks", "--filter", "state!=FINISHED", "--json").stdout)
    assert rows and all(r["state"] != "FINISHED" for r in rows)
    nodes = json.loads(cli("list", "nodes", "--json").stdout)
    assert [n["node_ip"] for n in nodes] == ["127.0.0.1"]
    bad = cli("list", "tasks", "--filter", "colour=red")
    assert bad.returncode == 2 and "cannot filter on 'colour'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_memory_shows_size_owner_reference_kind_and_where(standalone, holding_driver):
    result = cli("memory", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    big = [r for r in rows if r["object_size"] >= 8_000_000]
    assert len(big) == 1
    assert big[0]["where"] == "shared_memory"
    assert big[0]["owner_role"] == "driver" and big[0]["owner_pid"] == holding_driver.pid
    assert big[0]["reference_type"] == "LOCAL_REFERENCE"
    kinds = {r["reference_type"] for r in rows}
    assert "CAPTURED_IN_OBJECT" in kinds
    text = cli("memory").stdout
    assert "Object references status" in text and f"driver pid {holding_driver.pid}" in text
    assert "Shared memory:" in text


def test_timeline_is_a_chrome_trace_of_the_tasks(standalone, holding_driver, tmp_path: Path):
    path = tmp_path / "trace.json"
    result = cli("timeline", "-o", str(path))
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stdout
    events = json.loads(path.read_text())
    runs = [e for e in events if e["ph"] == "X"]
    squares = [e for e in runs if e["name"] == "square"]
    assert len(squares) >= 6
    for e in squares:
        assert e["dur"] >= 15_000  # each slept 20 ms; ts/dur are microseconds
        assert isinstance(e["tid"], int) and e["args"]["state"] == "FINISHED"
    names = {e["args"]["name"] for e in events if e["ph"] == "M"}
    assert "Node 127.0.0.1" in names


def test_reading_commands_do_not_create_jobs(standalone):
    before = json.loads(cli("list", "jobs", "--json").stdout)
    for args in (["status"], ["list", "actors"], ["memory"], ["timeline", "-o", os.devnull]):
        assert cli(*args).returncode == 0
    after = json.loads(cli("list", "jobs", "--json").stdout)
    assert len(after) == len(before)


@pytest.mark.parametrize(
    "command", [[], ["start"], ["stop"], ["status"], ["memory"], ["list"], ["timeline"], ["demo"]]
)
def test_every_command_has_help(command):
    result = cli(*command, "--help")
    assert result.returncode == 0
    assert "usage: rayground" in result.stdout and "--help" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["start", "--head", "--bogus"], "rayground start: unrecognized arguments: --bogus"),
        (["start", "--head", "--num-cpus", "two"], "'two' is not a number"),
        (["start", "--head", "--resources", "{bad"], "is not JSON"),
        (["start", "--head", "--resources", '{"CPU": 2}'], "Use num_cpus/num_gpus"),
        (["start", "--head", "--object-store-memory", "lots"], "is not a size"),
        (["start", "--head", "--node-ip-address", "my-laptop"], "is not an IP address"),
        (["start"], "start needs --head"),
        (["list", "things"], "invalid choice: 'things'"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_mistakes_are_one_clear_line(args, expected):
    result = cli(*args)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]


def test_address_with_nothing_there_is_one_line(tmp_path: Path):
    with socket.socket() as s:  # a port that is certainly closed: bound, never listened on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        for args in (["status"], ["list", "tasks"], ["memory"], ["timeline"]):
            result = cli(*args, "--address", f"127.0.0.1:{port}", RAYGROUND_TOKEN="x" * 64)
            assert result.returncode == 1
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and "No rayground cluster is listening" in lines[0], lines


def test_port_in_use_is_one_line(standalone):
    port = standalone.address.rsplit(":", 1)[1]
    result = cli("start", "--head", "--port", port)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "already in use" in result.stderr


def test_no_cluster_anywhere_is_one_line(tmp_path: Path):
    empty = str(tmp_path / "empty-root")
    result = cli("status", RAYGROUND_TMPDIR=empty)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "rayground start --head" in result.stderr
    stop = cli("stop", RAYGROUND_TMPDIR=empty)
    assert stop.returncode == 0 and "No cluster" in stop.stdout


def test_stop_leaves_no_process_and_no_shared_memory(short_root: str):
    root = short_root  # its own session root: `stop` here touches only this cluster
    start = cli("start", "--head", "--port", "0", "--num-cpus", "2", RAYGROUND_TMPDIR=root)
    assert start.returncode == 0, start.stderr
    head_pid = int(start.stdout.split("head pid ")[1].split(",")[0])
    session_dir = os.path.dirname(start.stdout.split("token file:")[1].split()[0])
    shm = f"/dev/shm/rayground-{os.path.basename(session_dir)}"
    workers = json.loads(cli("list", "workers", "--json", RAYGROUND_TMPDIR=root).stdout)
    pids = [head_pid, *[w["pid"] for w in workers]]
    assert len(pids) == 3 and all(process_alive(p) for p in pids)
    stop = cli("stop", RAYGROUND_TMPDIR=root)
    assert stop.returncode == 0 and f"head pid {head_pid}" in stop.stdout
    wait_until(lambda: not any(process_alive(p) for p in pids), timeout=10)
    assert not os.path.exists(shm)
    assert "No cluster" in cli("stop", RAYGROUND_TMPDIR=root).stdout


def test_block_stays_in_the_foreground_until_ctrl_c(short_root: str):
    root = short_root
    proc = subprocess.Popen(
        [sys.executable, "-m", "rayground", "start", "--head", "--port", "0", "--block"],
        env=child_env(RAYGROUND_TMPDIR=root),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.startswith("Started a rayground cluster"), proc.stderr.read()  # type: ignore[union-attr]
        head_pid = int(first.split("head pid ")[1].split(",")[0])
        assert cli("status", RAYGROUND_TMPDIR=root).returncode == 0
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        wait_until(lambda: not process_alive(head_pid), timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
