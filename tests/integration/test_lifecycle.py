"""Cluster lifetime with real processes: drivers that die or exit, shutdown/init, Ctrl-C,
worker output reaching the driver, code from the driver's own modules, and workers lending
their CPU back while they wait in `get`.

Most tests run a driver script in a subprocess (written to ``tmp_path``), because what is tested
is what happens to the head and the workers when *that* process goes away. Every wait has a
deadline; no test asserts anything about speed.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import rayground as ray
from _procs import descendants, process_alive, shm_entries, wait_until
from rayground._core.context import current_client
from rayground.util.state import list_workers

RUNTIME = Path(__file__).resolve().parents[2] / "runtime"
LINE_TIMEOUT = 20.0  # a driver's first line comes after init() + a task or two
GONE_TIMEOUT = 15.0  # head, workers and shared memory must vanish within this

# Shared by every driver script: `report()` prints one line "INFO {json}" describing the cluster.
PRELUDE = """
import json, os, signal, sys, time
import rayground as ray
from rayground._core.context import current_client
from rayground.util.state import list_workers


def report(**extra):
    client = current_client()
    info = {
        "driver_pid": os.getpid(),
        "head_pid": client.head_pid,
        "worker_pids": sorted(w["pid"] for w in list_workers()),
        "shm_dir": client.session["shm_dir"],
    }
    info.update(extra)
    print("INFO " + json.dumps(info), flush=True)
"""


class Driver:
    """A driver script running in a subprocess; threads collect its stdout and stderr lines."""

    def __init__(self, script: Path, cwd: Path, new_session: bool = False) -> None:
        env = dict(os.environ)
        parts = [str(RUNTIME), *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]]
        env["PYTHONPATH"] = os.pathsep.join(parts)
        env["PYTHONUNBUFFERED"] = "1"
        self.new_session = new_session
        self.proc = subprocess.Popen(
            [sys.executable, str(script)],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=new_session,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._lines: queue.Queue[str] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout, True)),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr, False)),
        ]
        for t in self._threads:
            t.daemon = True
            t.start()

    def _pump(self, stream, sink: list[str], announce: bool) -> None:
        for line in stream:
            line = line.rstrip("\n")
            sink.append(line)
            if announce:
                self._lines.put(line)

    def output(self) -> str:
        return "stdout:\n" + "\n".join(self.stdout) + "\nstderr:\n" + "\n".join(self.stderr)

    def wait_line(self, predicate: Callable[[str], bool], timeout: float = LINE_TIMEOUT) -> str:
        """The next stdout line satisfying ``predicate``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                line = self._lines.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                if self.proc.poll() is not None and self._lines.empty():
                    self._join_pumps()
                    if self._lines.empty():
                        break
                continue
            if predicate(line):
                return line
        raise AssertionError(
            f"driver (exit code {self.proc.poll()}) printed no matching line within "
            f"{timeout:g}s\n{self.output()}"
        )

    def info(self, timeout: float = LINE_TIMEOUT) -> dict:
        return json.loads(self.wait_line(lambda s: s.startswith("INFO "), timeout)[5:])

    def finish(self, timeout: float = LINE_TIMEOUT) -> int:
        """Wait for the driver to exit (killing it past ``timeout``) and for its output."""
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"driver did not exit within {timeout:g}s\n{self.output()}"
            ) from None
        self._join_pumps()
        return code

    def _join_pumps(self) -> None:
        for t in self._threads:
            t.join(timeout=5)

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                if self.new_session:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                else:
                    self.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        self._join_pumps()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Callable[..., Driver]]:
    """``driver(source, name="driver.py", cwd=tmp_path, new_session=False)`` starts a script."""
    started: list[Driver] = []

    def start(
        source: str, name: str = "driver.py", cwd: Path | None = None, new_session: bool = False
    ) -> Driver:
        script = tmp_path / name
        script.write_text(PRELUDE + textwrap.dedent(source))
        d = Driver(script, cwd or tmp_path, new_session)
        started.append(d)
        return d

    yield start
    for d in started:
        d.kill()


def _cluster_pids(info: dict) -> set[int]:
    """Head and workers as the driver saw them, plus whatever else the head started."""
    head = info["head_pid"]
    return {head, *info["worker_pids"], *descendants(head)}


def _assert_all_gone(info: dict, pids: set[int]) -> None:
    shm_dir = info["shm_dir"]
    wait_until(
        lambda: not any(process_alive(p) for p in pids) and not os.path.exists(shm_dir),
        timeout=GONE_TIMEOUT,
        interval=0.1,
        message=lambda: (
            f"still alive: {sorted(p for p in pids if process_alive(p))}; "
            f"{shm_dir} exists: {os.path.exists(shm_dir)}"
        ),
    )


BUSY_DRIVER = """
import numpy as np

ray.init(num_cpus=2)


@ray.remote
def add_one(x):
    return x + 1


@ray.remote
class Holder:
    def pid(self):
        return os.getpid()


assert ray.get(add_one.remote(1)) == 2
holder = Holder.remote()
actor_pid = ray.get(holder.pid.remote())
big = ray.put(np.ones(5 * 1024 * 1024 // 8))  # 5 MB: a shared-memory segment
report(actor_pid=actor_pid, segments=sorted(os.listdir(current_client().session["shm_dir"])))
"""


# ---------------------------------------------------------------------------- driver death


def test_driver_sigkill_leaves_nothing_behind(driver) -> None:
    d = driver(BUSY_DRIVER + "\ntime.sleep(60)\n")
    info = d.info()
    assert info["head_pid"] != info["driver_pid"]
    assert info["actor_pid"] in info["worker_pids"]
    assert os.path.basename(info["shm_dir"]).startswith("rayground-session_")
    assert info["segments"], "the 5 MB put should have created a shared-memory segment"
    assert os.path.basename(info["shm_dir"]) in shm_entries("rayground")
    pids = _cluster_pids(info)
    assert all(process_alive(p) for p in pids)

    os.kill(d.proc.pid, signal.SIGKILL)
    assert d.finish() == -signal.SIGKILL
    _assert_all_gone(info, pids)


def test_driver_returning_without_shutdown_leaves_nothing_behind(driver) -> None:
    d = driver(BUSY_DRIVER + "\nprint('DONE', flush=True)\n")
    info = d.info()
    pids = _cluster_pids(info)
    assert d.finish() == 0, d.output()
    assert "DONE" in d.stdout
    _assert_all_gone(info, pids)


@ray.remote
def _plus_one(x: int) -> int:
    return x + 1


def test_shutdown_twice_then_init_again() -> None:
    assert not ray.is_initialized()
    try:
        ray.init(num_cpus=1)
        assert ray.is_initialized()
        client = current_client()
        info = {
            "head_pid": client.head_pid,
            "worker_pids": [w["pid"] for w in list_workers()],
            "shm_dir": client.session["shm_dir"],
        }
        assert ray.get(_plus_one.remote(1), timeout=30) == 2
        pids = _cluster_pids(info)

        ray.shutdown()
        assert not ray.is_initialized()
        ray.shutdown()  # idempotent: no error, still not initialised
        assert not ray.is_initialized()
        _assert_all_gone(info, pids)

        ray.init(num_cpus=1)
        assert ray.is_initialized()
        assert current_client().head_pid != info["head_pid"]
        assert ray.get(_plus_one.remote(41), timeout=30) == 42
    finally:
        ray.shutdown()
    assert not ray.is_initialized()


# ---------------------------------------------------------------------------- Ctrl-C


def test_sigint_to_driver_group_spares_head_and_workers(driver) -> None:
    d = driver(
        """
        ray.init(num_cpus=2)


        @ray.remote
        def slow(x):
            time.sleep(1.5)
            return x


        @ray.remote
        def double(x):
            return 2 * x


        ray.get(double.remote(0))
        pending = slow.remote(7)
        try:
            report(sid=os.getsid(0), pgid=os.getpgid(0))
            time.sleep(30)
            print("NOT INTERRUPTED", flush=True)
        except KeyboardInterrupt:
            print("INTERRUPTED", flush=True)
        results = ray.get([pending, double.remote(21)], timeout=30)
        report(results=results)
        ray.shutdown()
        """,
        new_session=True,
    )
    info = d.info()
    driver_pid = info["driver_pid"]
    assert info["pgid"] == driver_pid  # started with start_new_session: its own group
    cluster = {info["head_pid"], *info["worker_pids"]}
    for pid in cluster:
        assert os.getsid(pid) != os.getsid(driver_pid), f"pid {pid} shares the driver's session"
        assert os.getpgid(pid) != driver_pid, f"pid {pid} is in the driver's process group"

    os.killpg(driver_pid, signal.SIGINT)  # what Ctrl-C in the driver's terminal does
    d.wait_line(lambda s: s in ("INTERRUPTED", "NOT INTERRUPTED"))
    assert "INTERRUPTED" in d.stdout, d.output()
    after = d.info()
    assert after["results"] == [7, 42]
    assert after["head_pid"] == info["head_pid"]
    assert set(info["worker_pids"]) <= set(after["worker_pids"]), "workers died of the SIGINT"
    assert d.finish() == 0, d.output()


# ---------------------------------------------------------------------------- worker output

PREFIXED = re.compile(r"^\((\w+) pid=(\d+)\) (.*)$")

OUTPUT_DRIVER = """
ray.init(num_cpus=1, log_to_driver={log_to_driver})


@ray.remote
def greet():
    print("hello")
    return os.getpid()


@ray.remote
class Greeter:
    def say(self, text):
        print(text)
        return os.getpid()


task_pid = ray.get(greet.remote())
greeter = Greeter.remote()
actor_pid = ray.get(greeter.say.remote("hi from the actor"))
print("PIDS", task_pid, actor_pid, flush=True)
ray.shutdown()
"""


def test_task_and_actor_output_reaches_the_driver_with_a_prefix(driver) -> None:
    d = driver(OUTPUT_DRIVER.format(log_to_driver=True))
    assert d.finish() == 0, d.output()
    pids_line = next(line for line in d.stdout if line.startswith("PIDS "))
    task_pid, actor_pid = (int(x) for x in pids_line.split()[1:])

    hello = [line for line in d.stdout if re.fullmatch(r"\(\w+ pid=\d+\) hello", line)]
    assert len(hello) == 1, d.output()
    name, pid, _ = PREFIXED.match(hello[0]).groups()
    assert name == "greet" and int(pid) == task_pid

    from_actor = [line for line in d.stdout if line.endswith(") hi from the actor")]
    assert len(from_actor) == 1, d.output()
    name, pid, _ = PREFIXED.match(from_actor[0]).groups()
    assert name == "Greeter" and int(pid) == actor_pid


def test_log_to_driver_false_keeps_worker_output_away(driver) -> None:
    d = driver(OUTPUT_DRIVER.format(log_to_driver=False))
    assert d.finish() == 0, d.output()
    assert any(line.startswith("PIDS ") for line in d.stdout), d.output()
    lines = d.stdout + d.stderr
    assert not any("hello" in line for line in lines), d.output()
    assert not any("hi from the actor" in line for line in lines), d.output()


# ---------------------------------------------------------------------------- driver's code


def test_function_from_the_drivers_own_module(driver, tmp_path: Path) -> None:
    (tmp_path / "mymod.py").write_text(
        textwrap.dedent(
            """
            import os


            def triple(x):
                return 3 * x


            def where():
                return os.getcwd()
            """
        )
    )
    d = driver(
        """
        import mymod

        ray.init(num_cpus=1)
        value = ray.get(ray.remote(mymod.triple).remote(14), timeout=30)
        cwd = ray.get(ray.remote(mymod.where).remote(), timeout=30)
        report(value=value, cwd=cwd)
        ray.shutdown()
        """,
        cwd=tmp_path,
    )
    info = d.info()
    assert info["value"] == 42
    assert os.path.samefile(info["cwd"], tmp_path)
    assert d.finish() == 0, d.output()


def test_actor_class_defined_in_main(driver) -> None:
    d = driver(
        """
        ray.init(num_cpus=1)


        @ray.remote
        class Counter:
            def __init__(self, start):
                self.n = start

            def incr(self):
                self.n += 1
                return self.n

            def module(self):
                return type(self).__module__


        counter = Counter.remote(10)
        values = [ray.get(counter.incr.remote(), timeout=30) for _ in range(3)]
        report(values=values, module=ray.get(counter.module.remote(), timeout=30))
        ray.shutdown()
        """
    )
    info = d.info()
    assert info["values"] == [11, 12, 13]
    assert info["module"] == "__main__"
    assert d.finish() == 0, d.output()


# ---------------------------------------------------------------------------- nested get


@pytest.fixture(scope="module")
def one_cpu_cluster() -> Iterator[None]:
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=1)
    try:
        yield
    finally:
        ray.shutdown()


@ray.remote
def _child(x: int) -> int:
    return x * 10


@ray.remote
def _parent(x: int) -> int:
    return ray.get(_child.remote(x)) + 1


@ray.remote
def _depth(n: int) -> int:
    if n == 0:
        return 0
    return 1 + ray.get(_depth.remote(n - 1))


def test_task_waiting_on_its_child_lends_its_cpu(one_cpu_cluster) -> None:
    assert ray.cluster_resources()["CPU"] == 1
    assert ray.get(_parent.remote(4), timeout=30) == 41


def test_depth_three_recursion_on_one_cpu(one_cpu_cluster) -> None:
    assert ray.get(_depth.remote(3), timeout=30) == 3
