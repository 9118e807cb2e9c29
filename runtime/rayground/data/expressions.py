"""Column expressions (as `ray.data.expressions`): `col("x") > 5`, `(col("a") + 1) * col("b")`.

An expression is a small tree built on the driver and sent with the plan; a worker evaluates it
on each Arrow block with `pyarrow.compute`, one vectorised kernel per node, so
`ds.filter(expr=col("x") > 5)` never builds a Python dict per row. `Dataset.filter(expr=...)`
keeps the rows where a predicate is true; `Dataset.with_column(name, expr)` adds a column.

The operators and their Arrow kernels are Ray's, so a result (an int column divided by an int
stays int, `%` is floored) is the same on both. `parse()` reads the deprecated string form
(`"x > 5 and y == 'a'"`), as Ray's does, with Python's own parser: names are columns.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from enum import Enum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


class Operation(str, Enum):
    """The operations an expression node can apply (the values are Ray's)."""

    ADD = "add"
    SUB = "sub"
    MUL = "mul"
    DIV = "div"
    MOD = "mod"
    FLOORDIV = "floordiv"
    GT = "gt"
    LT = "lt"
    GE = "ge"
    LE = "le"
    EQ = "eq"
    NE = "ne"
    AND = "and"
    OR = "or"
    NOT = "not"
    IS_NULL = "is_null"
    IS_NOT_NULL = "is_not_null"
    IN = "in"
    NOT_IN = "not_in"


_SYMBOLS = {
    Operation.ADD: "+",
    Operation.SUB: "-",
    Operation.MUL: "*",
    Operation.DIV: "/",
    Operation.MOD: "%",
    Operation.FLOORDIV: "//",
    Operation.GT: ">",
    Operation.LT: "<",
    Operation.GE: ">=",
    Operation.LE: "<=",
    Operation.EQ: "==",
    Operation.NE: "!=",
    Operation.AND: "&",
    Operation.OR: "|",
    Operation.IN: "in",
    Operation.NOT_IN: "not in",
}


class Expr:
    """Base of every expression node. Python operators build new nodes; nothing is evaluated
    until a dataset runs. `==` builds an expression too: use `structurally_equals` to compare."""

    __hash__ = None  # type: ignore[assignment]  # `==` builds a node, so no hashing by value

    @property
    def name(self) -> str | None:
        return None

    def _bin(self, other: Any, op: Operation) -> Expr:
        return BinaryExpr(op, self, other if isinstance(other, Expr) else LiteralExpr(other))

    def _rbin(self, other: Any, op: Operation) -> Expr:
        return BinaryExpr(op, other if isinstance(other, Expr) else LiteralExpr(other), self)

    def __add__(self, other: Any) -> Expr:
        return self._bin(other, Operation.ADD)

    def __radd__(self, other: Any) -> Expr:
        return self._rbin(other, Operation.ADD)

    def __sub__(self, other: Any) -> Expr:
        return self._bin(other, Operation.SUB)

    def __rsub__(self, other: Any) -> Expr:
        return self._rbin(other, Operation.SUB)

    def __mul__(self, other: Any) -> Expr:
        return self._bin(other, Operation.MUL)

    def __rmul__(self, other: Any) -> Expr:
        return self._rbin(other, Operation.MUL)

    def __truediv__(self, other: Any) -> Expr:
        return self._bin(other, Operation.DIV)

    def __rtruediv__(self, other: Any) -> Expr:
        return self._rbin(other, Operation.DIV)

    def __floordiv__(self, other: Any) -> Expr:
        return self._bin(other, Operation.FLOORDIV)

    def __rfloordiv__(self, other: Any) -> Expr:
        return self._rbin(other, Operation.FLOORDIV)

    def __mod__(self, other: Any) -> Expr:
        return self._bin(other, Operation.MOD)

    def __rmod__(self, other: Any) -> Expr:
        return self._rbin(other, Operation.MOD)

    def __gt__(self, other: Any) -> Expr:
        return self._bin(other, Operation.GT)

    def __lt__(self, other: Any) -> Expr:
        return self._bin(other, Operation.LT)

    def __ge__(self, other: Any) -> Expr:
        return self._bin(other, Operation.GE)

    def __le__(self, other: Any) -> Expr:
        return self._bin(other, Operation.LE)

    def __eq__(self, other: Any) -> Expr:  # type: ignore[override]
        return self._bin(other, Operation.EQ)

    def __ne__(self, other: Any) -> Expr:  # type: ignore[override]
        return self._bin(other, Operation.NE)

    def __and__(self, other: Any) -> Expr:
        return self._bin(other, Operation.AND)

    def __or__(self, other: Any) -> Expr:
        return self._bin(other, Operation.OR)

    def __invert__(self) -> Expr:
        return UnaryExpr(Operation.NOT, self)

    def __bool__(self) -> bool:
        raise TypeError(
            "An expression has no truth value until it is evaluated on data: combine "
            "predicates with & | ~ (not `and`/`or`/`not`), e.g. (col('a') > 1) & (col('b') < 2)."
        )

    def is_null(self) -> Expr:
        return UnaryExpr(Operation.IS_NULL, self)

    def is_not_null(self) -> Expr:
        return UnaryExpr(Operation.IS_NOT_NULL, self)

    def is_in(self, values: list[Any] | Expr) -> Expr:
        return self._bin(values, Operation.IN)

    def not_in(self, values: list[Any] | Expr) -> Expr:
        return self._bin(values, Operation.NOT_IN)

    def alias(self, name: str) -> Expr:
        return AliasExpr(self, name)

    def structurally_equals(self, other: Any) -> bool:
        return type(self) is type(other) and _fields(self) == _fields(other)

    def to_pyarrow(self) -> pc.Expression:
        """This expression as a `pyarrow.compute.Expression` (e.g. for a dataset filter)."""
        return _to_pyarrow(self)

    def __repr__(self) -> str:
        return "\n".join(_tree(self, "", True))

    def __str__(self) -> str:
        return repr(self)


def _fields(expr: Expr) -> tuple:
    values = []
    for v in vars(expr).values():
        values.append(("expr", _fields(v)) if isinstance(v, Expr) else ("value", repr(v)))
    return tuple(values)


@dataclass(frozen=True, eq=False, repr=False)
class ColumnExpr(Expr):
    _name: str

    @property
    def name(self) -> str:
        return self._name


@dataclass(frozen=True, eq=False, repr=False)
class LiteralExpr(Expr):
    value: Any


@dataclass(frozen=True, eq=False, repr=False)
class BinaryExpr(Expr):
    op: Operation
    left: Expr
    right: Expr


@dataclass(frozen=True, eq=False, repr=False)
class UnaryExpr(Expr):
    op: Operation
    operand: Expr


@dataclass(frozen=True, eq=False, repr=False)
class AliasExpr(Expr):
    expr: Expr
    _name: str

    @property
    def name(self) -> str:
        return self._name


def col(name: str) -> ColumnExpr:
    """The column `name` of each row."""
    if not isinstance(name, str):
        raise TypeError(f"col() takes a column name (str), got {name!r}")
    return ColumnExpr(name)


def lit(value: Any) -> LiteralExpr:
    """A constant, broadcast to every row."""
    return LiteralExpr(value)


# ---- text --------------------------------------------------------------------------------


def _tree(expr: Expr, prefix: str, is_last: bool) -> list[str]:
    """Ray's multi-line repr: the node, then its children drawn with box characters."""
    if isinstance(expr, ColumnExpr):
        return [f"COL({expr.name!r})"]
    if isinstance(expr, LiteralExpr):
        value = repr(expr.value)
        return [f"LIT({value if len(value) <= 50 else value[:47] + '...'})"]
    if isinstance(expr, BinaryExpr):
        label, children = expr.op.name, [("left", expr.left), ("right", expr.right)]
    elif isinstance(expr, UnaryExpr):
        label, children = expr.op.name, [("operand", expr.operand)]
    elif isinstance(expr, AliasExpr):
        label, children = f"ALIAS({expr.name!r})", [("", expr.expr)]
    else:  # pragma: no cover - every node type is handled above
        raise TypeError(f"unknown expression node {type(expr).__name__}")
    lines = [label]
    child_prefix = prefix + ("    " if is_last else "│   ")
    for i, (what, child) in enumerate(children):
        last = i == len(children) - 1
        sub = _tree(child, child_prefix, last)
        connector = "└── " if last else "├── "
        lines.append(f"{child_prefix}{connector}{what + ': ' if what else ''}{sub[0]}")
        lines.extend(sub[1:])
    return lines


def inline(expr: Expr) -> str:
    """One line, as Ray names an expression operator: `(col('x') > 1) & (col('x') < 5)`."""
    if isinstance(expr, ColumnExpr):
        return f"col({expr.name!r})"
    if isinstance(expr, LiteralExpr):
        value = repr(expr.value)
        return value if len(value) <= 20 else value[:17] + "..."
    if isinstance(expr, BinaryExpr):
        left, right = inline(expr.left), inline(expr.right)
        left = f"({left})" if isinstance(expr.left, BinaryExpr) else left
        right = f"({right})" if isinstance(expr.right, BinaryExpr) else right
        return f"{left} {_SYMBOLS[expr.op]} {right}"
    if isinstance(expr, UnaryExpr):
        inner = inline(expr.operand)
        inner = f"({inner})" if isinstance(expr.operand, BinaryExpr) else inner
        if expr.op is Operation.NOT:
            return f"~{inner}"
        return f"{inner}.{expr.op.value}()"
    if isinstance(expr, AliasExpr):
        return f"{inline(expr.expr)}.alias({expr.name!r})"
    raise TypeError(f"unknown expression node {type(expr).__name__}")  # pragma: no cover


# ---- evaluation ----------------------------------------------------------------------------


def _is_in(left: Any, right: Any) -> Any:
    if not isinstance(right, pa.Array | pa.ChunkedArray):
        right = pa.array(right.as_py() if isinstance(right, pa.Scalar) else right)
    return pc.is_in(left, value_set=right)


def _is_string(x: Any) -> bool:
    if isinstance(x, str):
        return True
    return isinstance(x, pa.Array | pa.ChunkedArray) and (
        pa.types.is_string(x.type) or pa.types.is_large_string(x.type)
    )


def _add(left: Any, right: Any) -> Any:
    # `+` on strings concatenates, as Python's (and Ray's) does.
    if _is_string(left) or _is_string(right):
        return pc.binary_join_element_wise(pc.cast(left, pa.string()), right, "")
    return pc.add(left, right)


_KERNELS = {
    Operation.ADD: _add,
    Operation.SUB: pc.subtract,
    Operation.MUL: pc.multiply,
    Operation.DIV: pc.divide,
    # Floored, as Python's: r = n - floor(n / m) * m.
    Operation.MOD: lambda a, b: pc.subtract(a, pc.multiply(pc.floor(pc.divide(a, b)), b)),
    Operation.FLOORDIV: lambda a, b: pc.floor(pc.divide(a, b)),
    Operation.GT: pc.greater,
    Operation.LT: pc.less,
    Operation.GE: pc.greater_equal,
    Operation.LE: pc.less_equal,
    Operation.EQ: pc.equal,
    Operation.NE: pc.not_equal,
    Operation.AND: pc.and_kleene,
    Operation.OR: pc.or_kleene,
    Operation.NOT: pc.invert,
    Operation.IS_NULL: pc.is_null,
    Operation.IS_NOT_NULL: pc.is_valid,
    Operation.IN: _is_in,
    Operation.NOT_IN: lambda a, b: pc.invert(_is_in(a, b)),
}


def evaluate(expr: Expr, table: pa.Table) -> Any:
    """The expression's value on every row of `table` (an Arrow array, or a scalar for a
    constant expression)."""
    if isinstance(expr, ColumnExpr):
        if expr.name not in table.column_names:
            raise KeyError(
                f"Column {expr.name!r} is not in this dataset; its columns are "
                f"{table.column_names}."
            )
        return table.column(expr.name)
    if isinstance(expr, LiteralExpr):
        return expr.value
    if isinstance(expr, BinaryExpr):
        return _KERNELS[expr.op](evaluate(expr.left, table), evaluate(expr.right, table))
    if isinstance(expr, UnaryExpr):
        return _KERNELS[expr.op](evaluate(expr.operand, table))
    if isinstance(expr, AliasExpr):
        return evaluate(expr.expr, table)
    raise TypeError(f"unknown expression node {type(expr).__name__}")  # pragma: no cover


def as_column(value: Any, num_rows: int) -> pa.ChunkedArray | pa.Array:
    """An evaluated expression as a column of `num_rows` (a constant is repeated)."""
    if isinstance(value, pa.Array | pa.ChunkedArray):
        return value
    scalar = value if isinstance(value, pa.Scalar) else pa.scalar(value)
    return pa.array([scalar.as_py()] * num_rows, type=scalar.type)


def filter_table(table: pa.Table, predicate: Expr, name: str) -> pa.Table:
    if table.num_rows == 0:
        return table  # an empty block may have no columns at all (an empty group partition)
    mask = as_column(evaluate(predicate, table), table.num_rows)
    if not pa.types.is_boolean(mask.type):
        raise ValueError(
            f"{name}: the filter expression must be a predicate (true or false for each row), "
            f"but it gives {mask.type} values; compare it, e.g. col('x') > 0."
        )
    # Rows where the predicate is null are dropped, as SQL's WHERE (and Ray) does.
    return table.filter(mask, null_selection_behavior="drop")


def with_column(table: pa.Table, column: str, expr: Expr) -> pa.Table:
    if table.num_rows == 0 and not table.column_names:
        return table
    values = as_column(evaluate(expr, table), table.num_rows)
    if column in table.column_names:
        return table.set_column(table.column_names.index(column), column, values)
    return table.append_column(column, values)


def _to_pyarrow(expr: Expr) -> pc.Expression:
    if isinstance(expr, ColumnExpr):
        return pc.field(expr.name)
    if isinstance(expr, LiteralExpr):
        return pc.scalar(expr.value)
    if isinstance(expr, AliasExpr):
        return _to_pyarrow(expr.expr)
    if isinstance(expr, UnaryExpr):
        inner = _to_pyarrow(expr.operand)
        return {
            Operation.NOT: lambda: ~inner,
            Operation.IS_NULL: inner.is_null,
            Operation.IS_NOT_NULL: inner.is_valid,
        }[expr.op]()
    assert isinstance(expr, BinaryExpr)
    if expr.op in (Operation.IN, Operation.NOT_IN):
        assert isinstance(expr.right, LiteralExpr), "is_in() takes a list of values"
        found = _to_pyarrow(expr.left).isin(expr.right.value)
        return ~found if expr.op is Operation.NOT_IN else found
    a, b = _to_pyarrow(expr.left), _to_pyarrow(expr.right)
    functions = {
        Operation.ADD: "add",
        Operation.SUB: "subtract",
        Operation.MUL: "multiply",
        Operation.DIV: "divide",
        Operation.GT: "greater",
        Operation.LT: "less",
        Operation.GE: "greater_equal",
        Operation.LE: "less_equal",
        Operation.EQ: "equal",
        Operation.NE: "not_equal",
        Operation.AND: "and_kleene",
        Operation.OR: "or_kleene",
    }
    if expr.op in functions:
        return pc.Expression._call(functions[expr.op], [a, b])
    floor = pc.Expression._call("floor", [pc.Expression._call("divide", [a, b])])
    if expr.op is Operation.FLOORDIV:
        return floor
    return pc.Expression._call("subtract", [a, pc.Expression._call("multiply", [floor, b])])


# ---- the deprecated string form -----------------------------------------------------------

_COMPARE = {
    ast.Eq: Operation.EQ,
    ast.NotEq: Operation.NE,
    ast.Lt: Operation.LT,
    ast.LtE: Operation.LE,
    ast.Gt: Operation.GT,
    ast.GtE: Operation.GE,
    ast.In: Operation.IN,
    ast.NotIn: Operation.NOT_IN,
}
_ARITH = {
    ast.Add: Operation.ADD,
    ast.Sub: Operation.SUB,
    ast.Mult: Operation.MUL,
    ast.Div: Operation.DIV,
    ast.Mod: Operation.MOD,
    ast.FloorDiv: Operation.FLOORDIV,
}


def parse(text: str) -> Expr:
    """An expression from its string form: `"x > 5 and name in ['a', 'b']"`."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"Invalid syntax in the expression: {text}") from exc
    return _from_ast(tree.body, text)


def _from_ast(node: ast.AST, text: str) -> Expr:
    if isinstance(node, ast.Name):
        return col(node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name | ast.Attribute):
        parent = _from_ast(node.value, text)
        if isinstance(parent, ColumnExpr):
            return col(f"{parent.name}.{node.attr}")  # a nested column: "user.age"
    if isinstance(node, ast.Constant):
        return lit(node.value)
    if isinstance(node, ast.List | ast.Tuple):
        items = [_from_ast(e, text) for e in node.elts]
        if not all(isinstance(i, LiteralExpr) for i in items):
            raise ValueError(f"A list in an expression may hold only constants: {text}")
        return lit([i.value for i in items])  # type: ignore[attr-defined]
    if isinstance(node, ast.Compare):
        if len(node.ops) != 1 or type(node.ops[0]) not in _COMPARE:
            raise ValueError(f"Only simple binary comparisons are supported: {text}")
        op = _COMPARE[type(node.ops[0])]
        return BinaryExpr(op, _from_ast(node.left, text), _from_ast(node.comparators[0], text))
    if isinstance(node, ast.BoolOp):
        op = Operation.AND if isinstance(node.op, ast.And) else Operation.OR
        parts = [_from_ast(v, text) for v in node.values]
        out = parts[0]
        for part in parts[1:]:
            out = BinaryExpr(op, out, part)
        return out
    if isinstance(node, ast.BinOp) and type(node.op) in _ARITH:
        left, right = _from_ast(node.left, text), _from_ast(node.right, text)
        return BinaryExpr(_ARITH[type(node.op)], left, right)
    if isinstance(node, ast.UnaryOp):
        if isinstance(node.op, ast.Not):
            return UnaryExpr(Operation.NOT, _from_ast(node.operand, text))
        if isinstance(node.op, ast.USub):
            return _from_ast(node.operand, text) * lit(-1)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_from_ast(a, text) for a in node.args]
        fn = node.func.id
        if fn == "is_null" and len(args) == 1:
            return UnaryExpr(Operation.IS_NULL, args[0])
        if fn in ("is_valid", "is_not_null") and len(args) == 1:
            return UnaryExpr(Operation.IS_NOT_NULL, args[0])
        if fn == "is_nan" and len(args) == 1:
            return BinaryExpr(Operation.NE, args[0], args[0])  # NaN is the one x != x
        if fn == "is_in" and len(args) == 2:
            return BinaryExpr(Operation.IN, args[0], args[1])
        raise ValueError(
            f"Unsupported function {fn}() in the expression {text!r}; the string form knows "
            "is_null(x), is_not_null(x), is_valid(x), is_nan(x) and is_in(x, [...])."
        )
    raise ValueError(
        f"Unsupported syntax in the expression {text!r}: {ast.unparse(node)}. Use comparisons, "
        "and/or/not, arithmetic and column names, or an expression: col('x') > 5."
    )


__all__ = [
    "AliasExpr",
    "BinaryExpr",
    "ColumnExpr",
    "Expr",
    "LiteralExpr",
    "Operation",
    "UnaryExpr",
    "col",
    "lit",
]
