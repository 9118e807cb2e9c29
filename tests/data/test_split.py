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


def test_streaming_train_test_split_random_is_lazy_and_reproducible(ray):
    ds = ray.data.range(400, override_num_blocks=4)
    train, test = ds.streaming_train_test_split(0.25, seed=7)
    assert type(train).__name__ == "Dataset"  # lazy: not a MaterializedDataset
    train_ids = sorted(r["id"] for r in train.take_all())
    test_ids = sorted(r["id"] for r in test.take_all())
    assert sorted(train_ids + test_ids) == list(range(400))  # each row on exactly one side
    assert 50 < len(test_ids) < 150  # about a quarter (400 draws of p=0.25: mean 100, sd 8.7)
    again_train, _ = ds.streaming_train_test_split(0.25, seed=7)
    assert sorted(r["id"] for r in again_train.take_all()) == train_ids
    assert train.columns() == ["id"]


def test_streaming_train_test_split_by_hash_puts_each_key_on_one_side(ray):
    items = [{"user": f"u{i % 10}", "x": i} for i in range(60)]
    train, test = ray.data.from_items(items).streaming_train_test_split(
        0.3, split_type="hash", hash_column="user"
    )
    train_users = {r["user"] for r in train.take_all()}
    test_users = {r["user"] for r in test.take_all()}
    assert not train_users & test_users
    assert train_users | test_users == {f"u{i}" for i in range(10)}
    # The hash is Ray's (BLAKE2b of str(key)): these keys land on these sides on both backends.
    assert sorted(test_users) == ["u0", "u4", "u5", "u7", "u8"]


def test_streaming_train_test_split_bad_arguments(ray):
    ds = ray.data.range(10)
    with pytest.raises(ValueError, match="test_size must be between 0 and 1"):
        ds.streaming_train_test_split(1.0)
    with pytest.raises(ValueError, match="seed is not supported for hash split"):
        ds.streaming_train_test_split(0.2, split_type="hash", hash_column="id", seed=1)
    with pytest.raises(ValueError, match="hash_column is not supported for random split"):
        ds.streaming_train_test_split(0.2, hash_column="id")
    with pytest.raises(ValueError, match="hash_column is required for hash split"):
        ds.streaming_train_test_split(0.2, split_type="hash")
    with pytest.raises(ValueError, match="Invalid split type"):
        ds.streaming_train_test_split(0.2, split_type="nope")
