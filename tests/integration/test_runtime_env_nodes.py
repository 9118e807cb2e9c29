"""A job's runtime_env on a second node: the working_dir and py_modules reach it as packages
through the head (the driver's directory is gone by the time the task runs there), are
unpacked once into that node's own session directory, owner-only; and an object put by an actor
on that node is lost with the actor (OwnerDiedError). Head on 127.0.0.1, a node on 127.0.0.4.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator

import pytest

import rayground as ray
from _procs import wait_until
from rayground._core import lifetime
from rayground.exceptions import ObjectLostError, OwnerDiedError

GET_TIMEOUT = 60.0
NODE_IP = "127.0.0.4"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    src = tmp_path_factory.mktemp("renv_src")
    (src / "wd").mkdir()
    (src / "wd" / "renv_far_module.py").write_text("WHERE = 'shipped'\n")
    (src / "wd" / "notes.txt").write_text("read by a relative path\n")
    (src / "mods" / "renv_far_pkg").mkdir(parents=True)
    (src / "mods" / "renv_far_pkg" / "__init__.py").write_text("VALUE = 3\n")
    head = lifetime.start_head(
        num_cpus=1,
        num_gpus=0,
        gpu_ids=[],
        resources={},
        object_store_memory=1 << 28,
        owner_pid=os.getpid(),
        port=0,
    )
    node = None
    old_token = os.environ.get("RAYGROUND_TOKEN")
    try:
        node = lifetime.start_node(
            head.tcp_address, head.token, num_cpus=1, resources={"far": 4}, node_ip_address=NODE_IP
        )
        os.environ["RAYGROUND_TOKEN"] = head.token.decode()
        ray.init(
            address=head.tcp_address,
            runtime_env={
                "working_dir": str(src / "wd"),
                "py_modules": [str(src / "mods" / "renv_far_pkg")],
                "env_vars": {"RENV_FAR": "1"},
            },
        )
        # The packages are in the cluster now: nothing may read the driver's copies.
        shutil.rmtree(src)
        yield {"head": head, "node": node}
    finally:
        ray.shutdown()
        if node is not None:
            lifetime.stop_process(node.proc)
        lifetime.stop_head(head.proc, head.shm_dir)
        lifetime.sweep_stale_sessions()
        if old_token is None:
            os.environ.pop("RAYGROUND_TOKEN", None)
        else:
            os.environ["RAYGROUND_TOKEN"] = old_token


@ray.remote(resources={"far": 1})
def far_task() -> dict:
    import renv_far_module
    import renv_far_pkg

    cwd = os.getcwd()
    with open("notes.txt") as f:
        notes = f.read().strip()
    return {
        "node": ray.get_runtime_context().get_node_id(),
        "module": renv_far_module.WHERE,
        "pkg": renv_far_pkg.VALUE,
        "notes": notes,
        "cwd": cwd,
        "cache_mode": stat.S_IMODE(os.stat(os.path.dirname(cwd)).st_mode),
        "cwd_mode": stat.S_IMODE(os.stat(cwd).st_mode),
        "env": os.environ.get("RENV_FAR"),
    }


def test_the_job_env_is_shipped_to_another_node(cluster: dict) -> None:
    head_session = cluster["head"].session_dir
    first = ray.get(far_task.remote(), timeout=GET_TIMEOUT)
    far = [n["NodeID"] for n in ray.nodes() if n["NodeManagerAddress"] == NODE_IP]
    assert first["node"] == far[0]
    assert (first["module"], first["pkg"], first["notes"], first["env"]) == (
        "shipped",
        3,
        "read by a relative path",
        "1",
    )
    # Unpacked in that node's own session directory, owner-only; not in the head's.
    assert os.sep + "runtime_resources" + os.sep in first["cwd"]
    assert not first["cwd"].startswith(head_session)
    assert first["cache_mode"] == 0o700 and first["cwd_mode"] == 0o700
    # A second task there reuses what is unpacked.
    assert ray.get(far_task.remote(), timeout=GET_TIMEOUT)["cwd"] == first["cwd"]


def test_an_object_put_by_an_actor_on_another_node_dies_with_it(cluster: dict) -> None:
    @ray.remote(resources={"far": 1})
    class Maker:
        def make(self) -> list:
            return [ray.put(b"x" * 200_000), ray.put("small")]

    maker = Maker.remote()
    refs = ray.get(maker.make.remote(), timeout=GET_TIMEOUT)
    ray.kill(maker)

    def owner_died() -> bool:
        try:
            ray.get(refs[0], timeout=GET_TIMEOUT)
        except OwnerDiedError:
            return True
        return False

    wait_until(owner_died, timeout=GET_TIMEOUT, message="the put object to be lost")
    for ref in refs:
        with pytest.raises(OwnerDiedError, match="owner has exited") as err:
            ray.get(ref, timeout=GET_TIMEOUT)
        assert isinstance(err.value, ObjectLostError)
        assert "return it from the task or" in str(err.value)
