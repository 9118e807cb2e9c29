"""%load_ext rayground, %ray_init and %ray_shutdown in a real kernel."""

from __future__ import annotations

import re

import pytest
from kernel import Kernel


@pytest.fixture
def fresh(tmp_path) -> Kernel:
    k = Kernel(cwd=str(tmp_path))
    try:
        k.run("%load_ext rayground")
        yield k
    finally:
        k.shutdown()


def test_init_shows_stable_status_reuses_and_restarts(fresh: Kernel) -> None:
    first = fresh.run("%ray_init --num-cpus 2 --object-store-memory 64MiB")
    assert first.text == (
        "rayground cluster (started by this kernel)\n"
        "  nodes: 1   CPUs: 2   GPUs: 0\n"
        "  object store: 0 B of 64.0 MiB used"
    )
    # The HTML form links to the side panel: a button JupyterLab's CommandLinker runs, hidden
    # until the lab extension shows it (tests/lab checks the click and Notebook 7).
    html = first.displays[0]["text/html"]
    assert re.search(
        r'<button [^>]*\bhidden\b[^>]*data-commandlinker-command="rayground:open-panel"', html
    )
    assert "the rayground side panel in JupyterLab's left bar shows this cluster too" in html
    pid = fresh.run("import os, rayground as ray\nprint(ray.nodes()[0]['ObjectStoreSocketName'])")
    again = fresh.run("%ray_init --num-cpus 2 --object-store-memory 64MiB")
    assert again.text.startswith("Reusing the cluster already running.\n")
    same = fresh.run("print(ray.nodes()[0]['ObjectStoreSocketName'])")
    assert same.stdout == pid.stdout  # the very same cluster

    changed = fresh.run(
        "%ray_init --num-cpus 1 --resources '{\"disk\": 2}' --object-store-memory 64MiB"
    )
    assert changed.text.splitlines()[0] == (
        'Arguments changed (--num-cpus 2 -> 1, --resources (default) -> {"disk": 2.0}): '
        "restarting the cluster."
    )
    assert "CPUs: 1   GPUs: 0   disk: 2" in changed.text
    assert fresh.run("print(ray.cluster_resources()['CPU'])").stdout.strip() == "1.0"

    assert fresh.run("%ray_shutdown").stdout == "Cluster shut down.\n"
    assert fresh.run("print(ray.is_initialized())").stdout == "False\n"
    assert fresh.run("%ray_shutdown").stdout == "No cluster was running.\n"


@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("--num-cpus -1", "--num-cpus must be >= 0"),
        ("--object-store-memory lots", "cannot read 'lots' as a size"),
        ("--resources '[1]'", "--resources takes a JSON object of names to numbers"),
        ("--address auto --num-cpus 2", "--address joins a running cluster"),
        ("--backend spark", "invalid choice: 'spark'"),
        ("--backend ray", "pip install 'rayground[ray]'"),
    ],
)
def test_bad_arguments_say_what_to_do(fresh: Kernel, line: str, says: str) -> None:
    if "ray]" in says:
        # What a learner without Ray sees, whether or not Ray is installed here: a None entry in
        # sys.modules makes `import ray` raise ImportError.
        fresh.run("import sys\nsys.modules['ray'] = None")
    res = fresh.run(f"%ray_init {line}")
    assert res.stderr.startswith("UsageError: ")  # IPython shows usage errors without traceback
    assert says in res.stderr
    assert fresh.run("import rayground\nprint(rayground.is_initialized())").stdout == "False\n"


def test_adopts_a_cluster_started_in_code(fresh: Kernel) -> None:
    fresh.run("import rayground as ray\nray.init(num_cpus=1, object_store_memory=64 * 2**20)")
    res = fresh.run("%ray_init")
    assert res.text.startswith("Reusing the cluster already running.")
    assert re.search(r"CPUs: 1 ", res.text)


def test_join_a_running_cluster_and_leave_it_running(fresh: Kernel) -> None:
    from rayground._core import lifetime

    head = lifetime.start_head(
        num_cpus=3,
        num_gpus=0,
        gpu_ids=[],
        resources={},
        object_store_memory=64 * 2**20,
        owner_pid=None,
    )
    try:
        joined = fresh.run("%ray_init --address auto")
        assert joined.text.splitlines()[:2] == [
            "rayground cluster (joined)",
            "  nodes: 1   CPUs: 3   GPUs: 0",
        ]
        fresh.run("import rayground as ray\n@ray.remote\ndef f():\n    return 7")
        assert fresh.run("print(ray.get(f.remote()))").stdout == "7\n"
        left = fresh.run("%ray_shutdown")
        assert left.stdout == "Disconnected; the cluster this kernel joined keeps running.\n"
        assert head.proc is not None and head.proc.poll() is None  # still running
    finally:
        lifetime.stop_head(head.proc, head.shm_dir)
