"""The DAG API (`ray.dag`): `.bind()` on functions, actor classes and actor methods, `InputNode`
with index/attribute/key access, `MultiOutputNode`, and what `execute()` returns, held to the
same assertions on both backends; where they differ, the test declares it
(`@pytest.mark.differs`, listed in docs/ray-compatibility.md)."""

from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest

DIFFERENCES_SECTION = "DAG API (`rayground.dag`)"


@pytest.fixture(scope="module")
def dag(ray):
    return importlib.import_module(f"{ray.__name__}.dag")


@pytest.fixture(scope="module")
def fns(ray):
    @ray.remote
    def square(x):
        return x * x

    @ray.remote
    def add(a, b):
        return a + b

    @ray.remote
    def total_of_refs(refs):
        # Nodes nested in a list arrive as ObjectRefs, as refs nested in arguments do.
        return sum(ray.get(refs))

    @ray.remote
    def pair(x):
        return x, x + 1

    @ray.remote
    def fail(x):
        raise KeyError(f"no such key {x}")

    @ray.remote
    class Counter:
        def __init__(self, start):
            self.n = start

        def add(self, k):
            self.n += k
            return self.n

        def get(self):
            return self.n

        def split(self):
            return self.n, -self.n

    return SimpleNamespace(
        square=square, add=add, total_of_refs=total_of_refs, pair=pair, fail=fail, Counter=Counter
    )


def execute(node, *args, **kwargs):
    # Ray 2.60 deprecates the classic executor; both backends say so the same way.
    with pytest.warns(DeprecationWarning, match="execute"):
        return node.execute(*args, **kwargs)


def test_bound_function_chain_runs_on_execute(ray, dag, fns):
    with dag.InputNode() as inp:
        node = fns.add.bind(fns.square.bind(inp), 1)
    assert isinstance(node, dag.FunctionNode)
    ref = execute(node, 3)
    assert isinstance(ref, ray.ObjectRef)
    assert ray.get(ref, timeout=60) == 10
    assert ray.get(execute(node, 4), timeout=60) == 17  # the graph runs again with new input


def test_graph_without_input_node(ray, dag, fns):
    node = fns.square.bind(fns.add.bind(2, 3))
    assert ray.get(execute(node), timeout=60) == 25


def test_input_positional_and_keyword_parts(ray, dag, fns):
    with dag.InputNode() as inp:
        node = fns.add.bind(inp[0], inp.y)
    assert ray.get(execute(node, 2, y=40), timeout=60) == 42
    with dag.InputNode() as inp:
        node = fns.add.bind(inp[1], inp["y"])
    assert ray.get(execute(node, 0, 5, y=7), timeout=60) == 12


def test_single_input_is_indexed_itself(ray, dag, fns):
    with dag.InputNode() as inp:
        by_key = fns.add.bind(inp["a"], inp["b"])
    assert ray.get(execute(by_key, {"a": 1, "b": 2}), timeout=60) == 3
    with dag.InputNode() as inp:
        by_index = fns.add.bind(inp[0], inp[1])
    assert ray.get(execute(by_index, [10, 20]), timeout=60) == 30
    with dag.InputNode() as inp:
        by_attr = fns.add.bind(inp.a, inp.b)
    assert ray.get(execute(by_attr, SimpleNamespace(a=5, b=6)), timeout=60) == 11


def test_multi_output_node_returns_a_list_of_refs(ray, dag, fns):
    with dag.InputNode() as inp:
        sq = fns.square.bind(inp)
        node = dag.MultiOutputNode([sq, fns.add.bind(sq, inp)])
    refs = execute(node, 5)
    assert isinstance(refs, list) and len(refs) == 2
    assert all(isinstance(r, ray.ObjectRef) for r in refs)
    assert ray.get(refs, timeout=60) == [25, 30]


def test_shared_node_runs_once_per_execute(ray, dag, fns):
    # Both consumers get the very same result: one task, not two.
    with dag.InputNode() as inp:
        sq = fns.square.bind(inp)
        node = dag.MultiOutputNode([sq, sq])
    first, second = execute(node, 6)
    assert first == second


def test_nested_nodes_arrive_as_refs(ray, dag, fns):
    with dag.InputNode() as inp:
        node = fns.total_of_refs.bind([fns.square.bind(inp), fns.square.bind(2)])
    assert ray.get(execute(node, 3), timeout=60) == 13


@pytest.mark.differs(
    "rayground",
    what="Nodes nested in arguments",
    ray="found in any picklable object (Ray scans by pickling)",
    rayground="found in lists, tuples, sets and dicts (also nested); elsewhere passed as the node",
    why="pickling every argument at bind time to look for nodes is costly and surprising; the "
    "containers cover what DAG code passes.",
)
def test_a_node_inside_another_object(ray, fns, differs):
    @ray.remote
    def kind(box):
        return type(box.item).__name__

    node = kind.bind(SimpleNamespace(item=fns.square.bind(3)))
    assert ray.get(execute(node), timeout=60) == ("FunctionNode" if differs else "ObjectRef")


@pytest.mark.differs(
    "rayground",
    what="`experimental_compile()`, `with_tensor_transport()`",
    ray="compiled graphs, GPU channels",
    rayground="not provided (`AttributeError`)",
    why="compiled graphs need Ray's shared-memory channels; the classic executor covers the "
    "course.",
)
def test_compiled_graphs(fns):
    node = fns.square.bind(2)
    assert callable(getattr(node, "experimental_compile", None))
    assert callable(getattr(node, "with_tensor_transport", None))


def test_bind_takes_options_and_num_returns(ray, dag, fns):
    node = fns.pair.options(num_returns=2).bind(7)
    refs = execute(node)
    assert len(refs) == 2
    assert ray.get(refs, timeout=60) == [7, 8]


def test_class_node_makes_a_fresh_actor_per_execute(ray, dag, fns):
    with dag.InputNode() as inp:
        counter = fns.Counter.bind(10)
        node = counter.add.bind(inp)
    assert isinstance(counter, dag.ClassNode)
    assert isinstance(node, dag.ClassMethodNode)
    assert ray.get(execute(node, 1), timeout=60) == 11
    assert ray.get(execute(node, 1), timeout=60) == 11  # a new actor, starting at 10 again


def test_class_node_alone_gives_an_actor_handle(ray, dag, fns):
    handle = execute(fns.Counter.bind(3))
    assert isinstance(handle, ray.actor.ActorHandle)
    assert ray.get(handle.get.remote(), timeout=60) == 3


def test_method_calls_on_one_class_node_run_in_bind_order(ray, dag, fns):
    # `get` does not consume `add`'s result, yet runs after it: calls bound on one actor are
    # submitted in the order they were bound.
    with dag.InputNode() as inp:
        counter = fns.Counter.bind(0)
        counter.add.bind(inp)
        node = counter.get.bind()
    assert ray.get(execute(node, 5), timeout=60) == 5


def test_bind_on_an_existing_actor_keeps_its_state(ray, dag, fns):
    handle = fns.Counter.remote(100)
    with dag.InputNode() as inp:
        node = handle.add.bind(inp)
    assert isinstance(node, dag.ClassMethodNode)
    assert ray.get(execute(node, 1), timeout=60) == 101
    assert ray.get(execute(node, 1), timeout=60) == 102  # the same actor both times
    assert ray.get(handle.get.remote(), timeout=60) == 102


def test_method_bind_with_num_returns(ray, dag, fns):
    node = fns.Counter.bind(4).split.options(num_returns=2).bind()
    refs = execute(node)
    assert ray.get(refs, timeout=60) == [4, -4]


def test_task_error_reaches_get_with_the_users_type(ray, dag, fns):
    with dag.InputNode() as inp:
        node = fns.square.bind(fns.fail.bind(inp))
    ref = execute(node, "k")
    with pytest.raises(KeyError, match="no such key k"):
        ray.get(ref, timeout=60)


def test_nodes_refuse_remote_and_a_second_bind(ray, dag, fns):
    node = fns.square.bind(1)
    with pytest.raises(AttributeError, match="execute"):
        node.remote()
    with pytest.raises(AttributeError, match="bind"):
        node.bind(2)
    with pytest.raises(AttributeError, match="bind"):
        fns.Counter.bind(1).add.remote(1)


def test_input_node_takes_no_arguments(ray, dag):
    with pytest.raises(ValueError, match="InputNode should not take any args"):
        dag.InputNode(1)


def test_input_node_cannot_construct_an_actor(ray, dag, fns):
    with dag.InputNode() as inp, pytest.raises(ValueError, match="InputNode"):
        fns.Counter.bind(inp)


def test_input_node_must_be_a_context_manager(ray, dag, fns):
    inp = dag.InputNode()
    node = fns.square.bind(inp)
    with pytest.raises(AssertionError, match="context manager"):
        execute(node, 2)


def test_one_input_node_per_graph(ray, dag, fns):
    with dag.InputNode() as a:
        left = fns.square.bind(a)
    with dag.InputNode() as b:
        node = fns.add.bind(left, b)
    with pytest.raises(AssertionError, match="one unique InputNode"):
        execute(node, 1)


def test_unknown_method_on_a_class_node(ray, dag, fns):
    with pytest.raises(AttributeError, match="nope"):
        fns.Counter.bind(1).nope  # noqa: B018
