"""The DAG API, as `ray.dag`: build a graph of calls with `.bind()`, run it with `.execute()`.

    from rayground.dag import InputNode, MultiOutputNode

    with InputNode() as inp:
        counter = Counter.bind(10)                  # a ClassNode: an actor made at execute time
        a = square.bind(inp[0])                     # a FunctionNode: a task
        b = counter.add.bind(inp.x)                 # a ClassMethodNode: an actor call
        dag = MultiOutputNode([a, combine.bind(a, b)])

    refs = dag.execute(3, x=4)                      # [ObjectRef, ObjectRef]

Binding submits nothing. `execute(*args, **kwargs)` walks the graph from the leaves up and
submits every node once through the public API (`f.options(...).remote(...)`,
`Cls.options(...).remote(...)`, `handle.method.options(...).remote(...)`), passing each node's
result as an ObjectRef to the nodes that consume it. What it returns is what the root node gave:
an ObjectRef for a function or method node, an ActorHandle for a class node, a list of those for
a `MultiOutputNode`, the input itself for an `InputNode`.

As in Ray (2.60):
* the input is the arguments of `execute`: one positional argument and no keywords is the
  input itself (`inp[0]`, `inp.x`, `inp["k"]` index into it); otherwise `inp[i]` is the i-th
  positional argument and `inp.name` / `inp["name"]` a keyword argument;
* each `execute` makes its own actors for the graph's class nodes; a method bound on an existing
  `ActorHandle` runs on that actor;
* calls bound on one class node are submitted in the order they were bound, even those that no
  output depends on, so an actor sees its method calls in program order;
* an `InputNode` must be used as a context manager, one per graph;
* `execute` gives a DeprecationWarning, as Ray's does (Ray 2.60 deprecates the classic DAG
  executor in favour of compiled graphs; rayground keeps it as it is).

Not here (see docs/ray-compatibility.md): compiled graphs (`experimental_compile`), tensor
transports, and nodes hidden inside objects other than lists, tuples, sets and dicts (Ray finds
them by pickling the argument).
"""

from __future__ import annotations

import html
import uuid
import warnings
from collections.abc import Callable
from typing import Any

__all__ = [
    "ClassMethodNode",
    "ClassNode",
    "DAGInputData",
    "DAGNode",
    "FunctionNode",
    "InputAttributeNode",
    "InputNode",
    "MultiOutputNode",
]

# Keys of `other_args_to_resolve`, Ray's names (ray.dag.constants).
PARENT_CLASS_NODE_KEY = "parent_class_node"
PREV_CLASS_METHOD_CALL_KEY = "prev_class_method_call"
_IN_CONTEXT_MANAGER = "__in_context_manager__"


class DAGNode:
    """A node of a bound graph: what to call, with which arguments (values or other nodes)."""

    def __init__(
        self,
        args: tuple | list,
        kwargs: dict[str, Any],
        options: dict[str, Any],
        other_args_to_resolve: dict[str, Any] | None = None,
    ) -> None:
        self._bound_args: tuple | list = args or []
        self._bound_kwargs: dict[str, Any] = kwargs or {}
        self._bound_options: dict[str, Any] = options or {}
        self._bound_other_args_to_resolve: dict[str, Any] = other_args_to_resolve or {}
        self._stable_uuid = uuid.uuid4().hex

    # ------------------------------------------------------------------ Ray's accessors
    def get_args(self) -> tuple | list:
        return self._bound_args

    def get_kwargs(self) -> dict[str, Any]:
        return dict(self._bound_kwargs)

    def get_options(self) -> dict[str, Any]:
        return dict(self._bound_options)

    def get_other_args_to_resolve(self) -> dict[str, Any]:
        return dict(self._bound_other_args_to_resolve)

    def get_stable_uuid(self) -> str:
        return self._stable_uuid

    def _children(self) -> list[DAGNode]:
        """The nodes this one consumes, directly or nested in lists, tuples, sets and dicts."""
        found: list[DAGNode] = []
        _scan(
            [self._bound_args, self._bound_kwargs, self._bound_other_args_to_resolve],
            found.append,
        )
        return list({id(n): n for n in found}.values())

    # ------------------------------------------------------------------ running
    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Submit the whole graph with this input; returns the root's ObjectRef(s) at once."""
        warnings.warn(
            "DAGNode.execute() is deprecated and will be removed in a future release of Ray "
            "(2.60 deprecates it in favour of compiled graphs); rayground keeps it working.",
            DeprecationWarning,
            stacklevel=2,
        )
        return _Execution(args, kwargs).run(self)

    def _execute_impl(self, execution: _Execution) -> Any:
        """Submit this node; its bound arguments are already replaced by their results."""
        raise NotImplementedError

    def _resolved(self, execution: _Execution) -> tuple[list, dict, dict]:
        return (
            _replace(list(self._bound_args), execution.result_of),
            _replace(self._bound_kwargs, execution.result_of),
            _replace(self._bound_other_args_to_resolve, execution.result_of),
        )

    # ------------------------------------------------------------------ misuse
    def __getattr__(self, attr: str) -> Any:
        # Only reached for attributes that do not exist.
        if attr == "bind":
            raise AttributeError(f".bind() cannot be used again on {type(self)} ")
        if attr == "remote":
            raise AttributeError(
                f".remote() cannot be used on {type(self)}. To execute the task graph for this "
                "node, use .execute()."
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {attr!r}")

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)

    def _label(self) -> str:
        return type(self).__name__

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """In a notebook, a bound graph shows as the task graph it will run (nothing runs): the
        views' interactive DAG widget, with the graph's text form for text-only front ends."""
        from .jupyter.viewwidget import TextView, view_widget

        graph = _preview_graph(self)
        widget = view_widget("dag", height=320)
        if isinstance(widget, TextView):
            widget.show(graph.text())
        else:
            widget.data = graph.model()
        shown = widget._repr_mimebundle_(**kwargs) or {}
        # anywidget answers (data, metadata); ipywidgets' widgets the data alone.
        bundle = dict(shown[0] if isinstance(shown, tuple) else shown)
        bundle["text/plain"] = graph.text()
        bundle["text/html"] = f"<pre>{html.escape(graph.text())}</pre>"
        return bundle

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._label()}, args={len(self._bound_args)})"


class _Execution:
    """One `execute()`: every node submitted once (by its uuid), children before parents."""

    def __init__(self, args: tuple, kwargs: dict[str, Any]) -> None:
        self.args = args
        self.kwargs = kwargs
        self._results: dict[str, Any] = {}
        self._input_uuid: str | None = None

    def run(self, root: DAGNode) -> Any:
        # Iterative post-order walk: a long chain of binds must not hit the recursion limit.
        stack: list[tuple[DAGNode, bool]] = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            if node._stable_uuid in self._results:
                continue
            if children_done:
                self._submit(node)
                continue
            stack.append((node, True))
            for child in reversed(node._children()):
                if child._stable_uuid not in self._results:
                    stack.append((child, False))
        return self._results[root._stable_uuid]

    def _submit(self, node: DAGNode) -> None:
        if isinstance(node, InputNode):
            if self._input_uuid is None:
                self._input_uuid = node._stable_uuid
            elif self._input_uuid != node._stable_uuid:
                raise AssertionError(
                    "Each DAG should only have one unique InputNode: bind every input of the "
                    "graph to the same `with InputNode() as inp:` block."
                )
        self._results[node._stable_uuid] = node._execute_impl(self)

    def result_of(self, node: DAGNode) -> Any:
        return self._results[node._stable_uuid]


def _preview_graph(root: DAGNode) -> Any:
    """The views' task-graph model (jupyter.dag.Graph) of the graph under `root`, before it runs."""
    from .jupyter import dag as drawing

    return drawing.build([drawing.compact_task(row) for row in _preview_rows(root)])


def _preview_rows(root: DAGNode) -> list[dict[str, Any]]:
    """The graph under `root` as not-yet-run task rows, in the shape of the state table's rows
    (what `%ray_dag` draws): one row per node that becomes a call or is the input, an edge
    (`depends_on`) from each node it consumes. Output-only nodes (MultiOutputNode) are skipped
    and their inputs stand for them."""
    order: list[DAGNode] = []
    seen: set[str] = set()
    stack: list[tuple[DAGNode, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if node._stable_uuid in seen:
            continue
        seen.add(node._stable_uuid)
        stack.append((node, True))
        stack.extend((c, False) for c in reversed(node._children()) if c._stable_uuid not in seen)

    def producers(node: DAGNode) -> list[str]:
        found: list[str] = []
        for child in node._children():
            if isinstance(child, MultiOutputNode):
                found.extend(producers(child))
            else:
                found.append(child._stable_uuid)
        return found

    rows = []
    for index, node in enumerate(order):
        if isinstance(node, MultiOutputNode):
            continue
        rows.append(
            {
                "task_id": node._stable_uuid,
                "name": node._label(),
                "state": "PENDING_ARGS_AVAIL",
                "depends_on": [f"{uuid_}.0" for uuid_ in producers(node)],
                "creation_time_ms": index,
            }
        )
    return rows


def _scan(value: Any, found: Callable[[DAGNode], Any]) -> None:
    if isinstance(value, DAGNode):
        found(value)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _scan(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _scan(item, found)


def _replace(value: Any, result_of: Callable[[DAGNode], Any]) -> Any:
    """A copy of `value` with every node in it replaced by that node's result."""
    if isinstance(value, DAGNode):
        return result_of(value)
    if isinstance(value, list):
        return [_replace(v, result_of) for v in value]
    if isinstance(value, tuple):
        items = [_replace(v, result_of) for v in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, set | frozenset):
        return type(value)(_replace(v, result_of) for v in value)
    if isinstance(value, dict):
        return {k: _replace(v, result_of) for k, v in value.items()}
    return value


# ---------------------------------------------------------------------- tasks and actors
class _CallNode(DAGNode):
    """A node that becomes one `.remote()` call of its body (a remote function or actor class)
    with its bound options."""

    def __init__(
        self,
        body: Any,
        args: tuple | list,
        kwargs: dict[str, Any],
        options: dict[str, Any],
        other_args_to_resolve: dict[str, Any] | None = None,
    ) -> None:
        self._body = body
        super().__init__(args, kwargs, options, other_args_to_resolve)

    def _execute_impl(self, execution: _Execution) -> Any:
        args, kwargs, _ = self._resolved(execution)
        return self._body.options(**self._bound_options).remote(*args, **kwargs)


class FunctionNode(_CallNode):
    """A task: `f.bind(...)` of a remote function (with its options)."""

    def _label(self) -> str:
        return str(getattr(self._body, "__name__", self._body))


class ClassNode(_CallNode):
    """An actor made when the graph runs: `Cls.bind(...)`; bind its methods with `.method.bind`."""

    def __init__(
        self,
        cls: Any,
        cls_args: tuple | list,
        cls_kwargs: dict[str, Any],
        cls_options: dict[str, Any],
        other_args_to_resolve: dict[str, Any] | None = None,
    ) -> None:
        self._last_call: ClassMethodNode | None = None
        super().__init__(cls, cls_args, cls_kwargs, cls_options, other_args_to_resolve)
        if any(isinstance(child, InputNode | InputAttributeNode) for child in self._children()):
            raise ValueError(
                "InputNode handles user dynamic input the DAG, and cannot be used as args, "
                "kwargs, or other_args_to_resolve in ClassNode constructor because it is not "
                "available at class construction or binding time. Pass the input to a method "
                "call instead."
            )

    def __getattr__(self, method_name: str) -> Any:
        if method_name.startswith("_"):
            return DAGNode.__getattr__(self, method_name)
        if method_name == "bind":
            raise AttributeError(f".bind() cannot be used again on {type(self)} ")
        methods = getattr(self._body, "_methods", {})
        if method_name not in methods:
            raise AttributeError(
                f"type object {self._label()!r} has no attribute {method_name!r}; its methods "
                f"are: {', '.join(sorted(methods)) or 'none'}."
            )
        return _UnboundClassMethodNode(self, method_name, {})

    def _label(self) -> str:
        return f"{getattr(self._body, '__name__', self._body)}()"


class _UnboundClassMethodNode:
    """`class_node.method`: waits for `.bind(...)` (and optionally `.options(...)` first)."""

    def __init__(self, actor: ClassNode, method_name: str, options: dict[str, Any]) -> None:
        self._actor = actor
        self._method_name = method_name
        self._options = options

    def bind(self, *args: Any, **kwargs: Any) -> ClassMethodNode:
        other = {
            PARENT_CLASS_NODE_KEY: self._actor,
            # Resolving the previous call first submits the calls in the order they were bound.
            PREV_CLASS_METHOD_CALL_KEY: self._actor._last_call,
        }
        node = ClassMethodNode(self._method_name, args, kwargs, self._options, other)
        self._actor._last_call = node
        return node

    def options(self, **options: Any) -> _UnboundClassMethodNode:
        self._options = options
        return self

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        raise AttributeError(
            ".remote() cannot be used on ClassMethodNodes. Use .bind() instead to express an "
            "symbolic actor call."
        )


class ClassMethodNode(DAGNode):
    """An actor method call, on a ClassNode's actor or on an existing ActorHandle."""

    def __init__(
        self,
        method_name: str,
        method_args: tuple | list,
        method_kwargs: dict[str, Any],
        method_options: dict[str, Any],
        other_args_to_resolve: dict[str, Any],
    ) -> None:
        self._method_name = method_name
        self._parent_class_node = other_args_to_resolve.get(PARENT_CLASS_NODE_KEY)
        super().__init__(method_args, method_kwargs, method_options, other_args_to_resolve)

    def _execute_impl(self, execution: _Execution) -> Any:
        args, kwargs, other = self._resolved(execution)
        handle = other[PARENT_CLASS_NODE_KEY]  # the ActorHandle (a ClassNode's, once resolved)
        method = getattr(handle, self._method_name)
        if self._bound_options:
            method = method.options(**self._bound_options)
        return method.remote(*args, **kwargs)

    def get_method_name(self) -> str:
        return self._method_name

    def _label(self) -> str:
        parent = self._parent_class_node
        owner = parent._label() if isinstance(parent, ClassNode) else "actor"
        return f"{owner}.{self._method_name}"


# ---------------------------------------------------------------------- input and output
class InputNode(DAGNode):
    """The graph's input: the arguments of `execute`. Use it as a context manager.

    `inp` is the single argument of `execute(x)`; `inp[i]`, `inp.name` and `inp["key"]` pick a
    part of it (or the i-th positional / a keyword argument of `execute(a, b, key=...)`)."""

    def __init__(
        self,
        *args: Any,
        input_type: Any = None,
        _other_args_to_resolve: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if args or kwargs:
            raise ValueError(
                "InputNode should not take any args or kwargs: pass the input to "
                "dag.execute(...) instead."
            )
        self.input_attribute_nodes: dict[Any, InputAttributeNode] = {}
        self.input_type = input_type
        super().__init__([], {}, {}, other_args_to_resolve=_other_args_to_resolve)

    def __enter__(self) -> InputNode:
        self._bound_other_args_to_resolve[_IN_CONTEXT_MANAGER] = True
        return self

    def __exit__(self, *exc_info: Any) -> None:
        return None

    def _execute_impl(self, execution: _Execution) -> Any:
        if not self._bound_other_args_to_resolve.get(_IN_CONTEXT_MANAGER):
            raise AssertionError(
                "InputNode is a singleton instance that should be only used in context manager "
                "for dag building and execution: write `with InputNode() as inp:` and bind "
                "inside the block."
            )
        if len(execution.args) == 1 and not execution.kwargs:
            return execution.args[0]
        return DAGInputData(*execution.args, **execution.kwargs)

    def __getattr__(self, key: str) -> InputAttributeNode:
        if key.startswith("_"):  # private and dunder lookups (copy, pickle) are not input fields
            return DAGNode.__getattr__(self, key)
        return self._attribute(key, "__getattr__")

    def __getitem__(self, key: int | str) -> InputAttributeNode:
        if not isinstance(key, int | str):
            raise TypeError(
                "Please only use int index or str as first-level key to access fields of dag "
                f"input, got {type(key).__name__}."
            )
        return self._attribute(key, "__getitem__")

    def _attribute(self, key: int | str, accessor: str) -> InputAttributeNode:
        if (key, accessor) not in self.input_attribute_nodes:
            self.input_attribute_nodes[(key, accessor)] = InputAttributeNode(self, key, accessor)
        return self.input_attribute_nodes[(key, accessor)]

    def _label(self) -> str:
        return "input"


class InputAttributeNode(DAGNode):
    """A part of the input: `inp[0]`, `inp.x` or `inp["x"]`."""

    def __init__(self, dag_input_node: InputNode, key: int | str, accessor_method: str) -> None:
        self._key = key
        self._accessor_method = accessor_method
        super().__init__(
            [],
            {},
            {},
            {"dag_input_node": dag_input_node, "key": key, "accessor_method": accessor_method},
        )

    @property
    def key(self) -> int | str:
        return self._key

    def _execute_impl(self, execution: _Execution) -> Any:
        _, _, other = self._resolved(execution)
        value = other["dag_input_node"]
        if isinstance(value, DAGInputData) or isinstance(self._key, int):
            return value[self._key]
        if self._accessor_method == "__getattr__":
            return getattr(value, self._key)
        return value[self._key]

    def _label(self) -> str:
        if self._accessor_method == "__getattr__":
            return f"input.{self._key}"
        return f"input[{self._key!r}]"


class DAGInputData:
    """The input of `execute(a, b, key=v)`: `[i]` gives a positional argument, `["key"]` a
    keyword one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = list(args)
        self._kwargs = kwargs

    def __getitem__(self, key: int | str) -> Any:
        if isinstance(key, int):
            return self._args[key]
        if isinstance(key, str):
            return self._kwargs[key]
        raise ValueError(
            "Please only use int index or str as first-level key to access fields of dag input."
        )


class MultiOutputNode(DAGNode):
    """Several outputs: `execute` returns the list of their results."""

    def __init__(
        self, args: list | tuple, other_args_to_resolve: dict[str, Any] | None = None
    ) -> None:
        if isinstance(args, tuple):
            args = list(args)
        if not isinstance(args, list):
            raise ValueError(
                f"Invalid input type for `args`, {type(args)}: pass a list of bound nodes."
            )
        super().__init__(args, {}, {}, other_args_to_resolve)

    def _execute_impl(self, execution: _Execution) -> Any:
        args, _, _ = self._resolved(execution)
        return args

    def _label(self) -> str:
        return "outputs"
