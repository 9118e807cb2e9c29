"""A bound graph (rayground.dag) is shown before it runs: `%ray_dag NAME` and the graph's own
HTML form, in a real kernel with no cluster (binding submits nothing)."""

from __future__ import annotations

import pytest
from kernel import Kernel

GRAPH = """
import rayground as ray
from rayground.dag import InputNode, MultiOutputNode

@ray.remote
def square(x):
    return x * x

@ray.remote
def add(a, b):
    return a + b

@ray.remote
class Counter:
    def add(self, k):
        return k

with InputNode() as inp:
    counter = Counter.bind()
    sq = square.bind(inp[0])
    dag = MultiOutputNode([sq, add.bind(sq, counter.add.bind(inp.x))])
"""


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Kernel:
    k = Kernel(cwd=str(tmp_path_factory.mktemp("nb")))
    try:
        k.run("%load_ext rayground")
        k.run(GRAPH)
        yield k
    finally:
        k.shutdown()


def test_ray_dag_draws_a_bound_graph_before_it_runs(kernel: Kernel) -> None:
    res = kernel.run("%ray_dag dag")
    assert res.error is None, res.stderr
    assert res.text.splitlines() == [
        "task graph: 7 task(s), 7 pending",
        "  input x1",
        "  input[0] x1",
        "  square x1",
        "  input.x x1",
        "  Counter() x1",
        "  Counter().add x1",
        "  add x1",
        "  input -> input[0] (1 data edge)",
        "  input -> input.x (1 data edge)",
        "  input[0] -> square (1 data edge)",
        "  square -> add (1 data edge)",
        "  input.x -> Counter().add (1 data edge)",
        "  Counter() -> Counter().add (1 data edge)",
        "  Counter().add -> add (1 data edge)",
    ]
    # The views' interactive DAG widget draws it (a text form where the front end is not built).
    assert "application/vnd.jupyter.widget-view+json" in res.displays[0]
    # Nothing ran: binding and drawing need no cluster.
    assert kernel.run("print(ray.is_initialized())").stdout == "False\n"


def test_a_bound_graph_shows_itself_as_the_dag_widget(kernel: Kernel) -> None:
    res = kernel.run("dag")
    assert "application/vnd.jupyter.widget-view+json" in res.displays[0]
    assert "square -&gt; add (1 data edge)" in res.displays[0]["text/html"]


def test_ray_dag_refuses_what_is_not_a_graph(kernel: Kernel) -> None:
    res = kernel.run("%ray_dag square")
    assert res.stderr.startswith("UsageError: ")
    assert "'square' is not a bound graph" in res.stderr
