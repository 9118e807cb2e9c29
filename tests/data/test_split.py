"""train_test_split and the other splits: sizes, proportions and errors as Ray Data's."""

from __future__ import annotations

import collections

import pytest


def _labels(ds):
    return collections.Counter(r["label"] for r in ds.take_all())


def test_stratified_split_keeps_each_class_proportion(ray):
    items = [{"x": i, "label": "a" if i % 4 else "b"} for i in range(40)]  # 30 a, 10 b
    train, test = ray.data.from_items(items, override_num_blocks=4).train_test_split(
        0.25, stratify="label"
    )
    # Per class: int(n * 0.25) rows go to test (a: 7 of 30, b: 2 of 10), the rest to train.
    assert _labels(test) == {"a": 7, "b": 2}
    assert _labels(train) == {"a": 23, "b": 8}
    assert train.columns() == ["x", "label"]  # the helper flag column is gone
    xs = sorted(r["x"] for r in train.take_all()) + sorted(r["x"] for r in test.take_all())
    assert sorted(xs) == list(range(40))  # every row once


def test_stratified_split_with_an_int_test_size(ray):
    items = [{"x": i, "label": i % 2} for i in range(20)]
    train, test = ray.data.from_items(items).train_test_split(4, stratify="label")
    assert _labels(test) == {0: 2, 1: 2}
    assert train.count() == 16


def test_train_test_split_bad_arguments(ray):
    ds = ray.data.range(10)
    with pytest.raises(ValueError, match="shuffle=True' and 'stratify"):
        ds.train_test_split(0.2, shuffle=True, stratify="id")
    with pytest.raises(ValueError, match="bigger than 0 and smaller than 1"):
        ds.train_test_split(1.5)
    with pytest.raises(ValueError, match="smaller than the size of the dataset"):
        ds.train_test_split(10)
    with pytest.raises(TypeError, match="must be int or float"):
        ds.train_test_split("0.2")


def test_split_at_indices_and_proportionately(ray):
    parts = ray.data.range(10, override_num_blocks=3).split_at_indices([2, 7])
    assert [p.count() for p in parts] == [2, 5, 3]
    assert sorted(r["id"] for r in parts[1].take_all()) == [2, 3, 4, 5, 6]
    parts = ray.data.range(10).split_proportionately([0.2, 0.5])
    assert [p.count() for p in parts] == [2, 5, 3]
