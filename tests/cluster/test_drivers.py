"""Second drivers on a standalone cluster: each driver is its own process, as in real use.

`init("auto")` finds the cluster; `init("host:port")` joins over TCP with the token;
`gcs_address` is an address another driver can use; detached actors outlive their driver and are
found by name in the same namespace only; non-detached actors die with their driver; one driver
can kill another's detached actor.
"""

from __future__ import annotations

import json

from _cluster import cli

from _procs import wait_until

PRELUDE = """
import json, sys
import rayground as ray


@ray.remote
class Counter:
    def __init__(self):
        self.n = 0

    def incr(self):
        self.n += 1
        return self.n
"""


def _actors(**match) -> list[dict]:
    rows = json.loads(cli("list", "actors", "--json").stdout)
    return [r for r in rows if all(r.get(k) == v for k, v in match.items())]


def test_auto_and_tcp_drivers_share_the_cluster(standalone, driver):
    code = """
    import sys
    import rayground as ray
    ctx = ray.init(address=sys.argv[1])
    print(json.dumps({"gcs": ray.get_runtime_context().gcs_address,
                      "cpus": ray.cluster_resources()["CPU"],
                      "node": ray.get_runtime_context().get_node_id(),
                      "sum": ray.get(ray.remote(lambda x: x + 1).remote(41))}))
    """.replace("import sys\n", "import sys, json\n", 1)
    auto = driver(code, "auto")
    assert auto.returncode == 0, auto.stderr
    first = json.loads(auto.stdout.strip().splitlines()[-1])
    assert first["gcs"] == standalone.address and first["cpus"] == 2 and first["sum"] == 42
    # The address the first driver reports works for a second one, over TCP, with the token.
    tcp = driver(code, first["gcs"], RAYGROUND_TOKEN=standalone.token)
    assert tcp.returncode == 0, tcp.stderr
    second = json.loads(tcp.stdout.strip().splitlines()[-1])
    assert second["node"] == first["node"] and second["sum"] == 42


def test_tcp_driver_without_the_right_token_is_refused(standalone, driver):
    code = """
    import sys
    import rayground as ray
    try:
        ray.init(address=sys.argv[1])
    except ConnectionError as exc:
        print("REFUSED", exc)
    else:
        print("CONNECTED")
    """
    result = driver(code, standalone.address, RAYGROUND_TOKEN="0" * 64)
    assert result.returncode == 0, result.stderr
    assert "REFUSED" in result.stdout and "wrong token" in result.stdout


def test_detached_actor_outlives_its_driver_and_is_found_by_name(standalone, driver):
    make = driver(
        PRELUDE
        + """
ray.init(address="auto", namespace="class")
keeper = Counter.options(name="keeper", lifetime="detached").remote()
temp = Counter.options(name="temp").remote()
print(ray.get(keeper.incr.remote()), ray.get(temp.incr.remote()))
"""
    )
    assert make.returncode == 0, make.stderr
    assert make.stdout.split() == ["1", "1"]
    # The driver exited: its non-detached actor dies with it, the detached one stays.
    wait_until(lambda: _actors(name="temp", state="DEAD"), timeout=10)
    assert _actors(name="keeper", state="ALIVE")

    use = driver(
        PRELUDE
        + """
ray.init(address=sys.argv[1], namespace="class")
keeper = ray.get_actor("keeper")
print("keeper", ray.get(keeper.incr.remote()))
try:
    ray.get_actor("temp")
except ValueError:
    print("temp gone")
""",
        standalone.address,
        RAYGROUND_TOKEN=standalone.token,
    )
    assert use.returncode == 0, use.stderr
    assert "keeper 2" in use.stdout and "temp gone" in use.stdout

    other_ns = driver(
        PRELUDE
        + """
ray.init(address="auto", namespace="elsewhere")
try:
    ray.get_actor("keeper")
except ValueError as exc:
    print("not here:", exc)
print("explicit", ray.get(ray.get_actor("keeper", namespace="class").incr.remote()))
"""
    )
    assert other_ns.returncode == 0, other_ns.stderr
    assert "not here:" in other_ns.stdout and "explicit 3" in other_ns.stdout


def test_one_driver_kills_another_drivers_detached_actor(standalone, driver):
    make = driver(
        PRELUDE
        + """
ray.init(address="auto", namespace="kill")
a = Counter.options(name="victim", lifetime="detached").remote()
print(ray.get(a.incr.remote()))
"""
    )
    assert make.returncode == 0, make.stderr
    kill = driver(
        PRELUDE
        + """
import time
ray.init(address="auto", namespace="kill")
a = ray.get_actor("victim")
ray.kill(a)
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        ray.get_actor("victim")
    except ValueError:
        break
    time.sleep(0.05)
try:
    ray.get(a.incr.remote(), timeout=10)
except ray.exceptions.RayActorError:
    print("dead for everyone")
"""
    )
    assert kill.returncode == 0, kill.stderr
    assert "dead for everyone" in kill.stdout
    assert _actors(name="victim", state="DEAD")


def test_drivers_run_at_the_same_time(standalone, tmp_path):
    """Two drivers submit at once; each gets its own results (no cross-talk between jobs)."""
    import subprocess
    import sys

    from _cluster import child_env

    script = tmp_path / "tagger.py"
    script.write_text(
        """
import sys
import rayground as ray
ray.init(address="auto")
k = int(sys.argv[1])


@ray.remote
def tag(i):
    return (k, i)


out = ray.get([tag.remote(i) for i in range(300)])
assert out == [(k, i) for i in range(300)], out[:5]
print("OK", k)
"""
    )
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(k)],
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(3)
    ]
    try:
        outs = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
    for k, (out, err) in enumerate(outs):
        assert f"OK {k}" in out, err
