"""Column expressions (`ray.data.expressions`): `filter(expr=...)`, its deprecated string form and
`with_column`, with the same results on rayground and Ray Data; and the errors a wrong expression
gets."""

from __future__ import annotations

import importlib
import warnings

import pytest

ITEMS = [
    {"x": i, "label": "a" if i % 4 else "b", "v": None if i == 3 else i / 2} for i in range(20)
]


def _expr(ray):
    # `ray.data.expressions` (Ray) / `rayground.data.expressions`: the module a user imports.
    return importlib.import_module(f"{ray.__name__}.data.expressions")


def _xs(rows):
    return sorted(r["x"] for r in rows)


def test_filter_with_a_predicate_expression(ray):
    col = _expr(ray).col
    ds = ray.data.from_items(ITEMS, override_num_blocks=3)
    assert _xs(ds.filter(expr=(col("x") > 10) & (col("x") < 14)).take_all()) == [11, 12, 13]
    assert _xs(ds.filter(expr=(col("x") < 2) | (col("x") >= 18)).take_all()) == [0, 1, 18, 19]
    assert _xs(ds.filter(expr=~(col("x") >= 3)).take_all()) == [0, 1, 2]
    assert _xs(ds.filter(expr=col("label") == "b").take_all()) == [0, 4, 8, 12, 16]
    assert _xs(ds.filter(expr=col("label").is_in(["b"])).take_all()) == [0, 4, 8, 12, 16]
    assert ds.filter(expr=col("label").not_in(["b"])).count() == 15
    assert _xs(ds.filter(expr=col("x") % 7 == 0).take_all()) == [0, 7, 14]
    assert _xs(ds.filter(expr=col("x") * 2 + 1 == 9).take_all()) == [4]
    # Rows whose predicate is null (a null value compared) are dropped, as in SQL.
    assert _xs(ds.filter(expr=col("v") >= 0).take_all()) == [x for x in range(20) if x != 3]
    assert _xs(ds.filter(expr=col("v").is_null()).take_all()) == [3]
    assert ds.filter(expr=col("v").is_not_null()).count() == 19


def test_filter_expression_chains_with_other_operators(ray):
    col = _expr(ray).col
    ds = ray.data.range(30).map(lambda r: {"id": r["id"], "sq": r["id"] ** 2})
    ds = ds.filter(expr=col("sq") > 400).filter(lambda r: r["id"] % 2 == 0)
    assert sorted(r["id"] for r in ds.take_all()) == [22, 24, 26, 28]


def test_filter_string_expression_is_deprecated_but_works(ray):
    ds = ray.data.from_items(ITEMS)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = ds.filter(expr="x <= 8 and label == 'b'").take_all()
    assert _xs(rows) == [0, 4, 8]
    assert any(
        issubclass(w.category, DeprecationWarning) and "String expressions" in str(w.message)
        for w in caught
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert _xs(ds.filter(expr="x in [1, 2, 30]").take_all()) == [1, 2]
        assert _xs(ds.filter(expr="not x > 1").take_all()) == [0, 1]
        assert _xs(ds.filter(expr="is_null(v)").take_all()) == [3]
        with pytest.raises(ValueError, match="Invalid syntax"):
            ds.filter(expr="x >")


def test_filter_needs_exactly_one_of_fn_or_expr(ray):
    col = _expr(ray).col
    ds = ray.data.range(5)
    with pytest.raises(ValueError, match="Exactly one of 'fn' or 'expr'"):
        ds.filter()
    with pytest.raises(ValueError, match="Exactly one of 'fn' or 'expr'"):
        ds.filter(lambda r: True, expr=col("id") > 1)
    with pytest.raises(ValueError, match="fn_args"):
        ds.filter(expr=col("id") > 1, fn_args=(1,))


def test_filter_expression_on_a_missing_column_names_it(ray):
    col = _expr(ray).col
    with pytest.raises(KeyError, match="nope"):
        ray.data.range(5).filter(expr=col("nope") > 1).take_all()


def test_with_column_adds_or_replaces_a_column(ray):
    e = _expr(ray)
    col, lit = e.col, e.lit
    ds = ray.data.from_items([{"price": 10, "qty": 2}, {"price": 3, "qty": 5}])
    rows = ds.with_column("total", col("price") * col("qty")).take_all()
    assert sorted(r["total"] for r in rows) == [15, 20]
    assert set(rows[0]) == {"price", "qty", "total"}
    rows = ds.with_column("price", col("price") + lit(1)).take_all()
    assert sorted(r["price"] for r in rows) == [4, 11]
    assert ds.with_column("one", lit(1)).take_all()[0]["one"] == 1


def test_expression_repr_is_rays_tree(ray):
    e = _expr(ray)
    expr = (e.col("x") + e.lit(5)) * e.col("y")
    assert repr(expr) == (
        "MUL\n"
        "    ├── left: ADD\n"
        "    │   ├── left: COL('x')\n"
        "    │   └── right: LIT(5)\n"
        "    └── right: COL('y')"
    )
    assert (e.col("a") > 1).structurally_equals(e.col("a") > 1)
    assert not (e.col("a") > 1).structurally_equals(e.col("a") > 2)
    assert e.col("a").alias("b").name == "b"


def test_rayground_names_the_operator_by_its_expression(rg):
    from rayground.data.expressions import col

    ds = rg.data.range(10).filter(expr=(col("id") > 1) & (col("id") < 5))
    assert repr(ds) == "Dataset(plan=ReadRange -> Filter((col('id') > 1) & (col('id') < 5)))"


def test_rayground_rejects_a_non_boolean_filter_expression_clearly(rg):
    from rayground.data.expressions import col

    # Ray Data fails here with Arrow's "Filter argument must be boolean type".
    with pytest.raises(ValueError, match=r"must be a predicate .* int64 values"):
        rg.data.range(5).filter(expr=col("id") + 1).take_all()
    with pytest.raises(TypeError, match=r"with & | ~"):
        bool(col("id") > 1)
    with pytest.raises(TypeError, match="add_column"):
        rg.data.range(5).with_column("y", lambda b: b)
