"""Blocks without a cluster: values to Arrow and back (objects Arrow has no type for, tensors,
missing keys), batch formats, and the errors a wrong batch gets."""

from __future__ import annotations

import pickle
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from rayground.data import block


def test_python_objects_round_trip_through_a_pickled_column():
    rows = [{"v": Fraction(1, 3), "n": 1}, {"v": None, "n": 2}]
    table = block.from_rows(rows)
    assert isinstance(table.schema.field("v").type, block.PythonObjectType)
    again = pickle.loads(pickle.dumps(table, protocol=5))  # as it travels through the store
    assert block.to_rows(again) == rows


def test_tensor_rows_and_missing_keys():
    rows = [{"x": np.ones((2, 2)) * i, "y": i} for i in range(3)] + [{"x": np.zeros((2, 2))}]
    table = block.from_rows(rows)
    batch = block.to_batch(table, "numpy")
    assert batch["x"].shape == (4, 2, 2)
    assert block.to_rows(table)[3]["y"] is None
    frame = block.to_batch(table, "pandas")
    assert isinstance(frame, pd.DataFrame) and frame["x"][1].shape == (2, 2)


def test_from_batch_accepts_the_three_formats_and_rejects_others():
    expected = pa.table({"a": [1, 2]})
    assert block.from_batch({"a": np.array([1, 2])}).equals(expected)
    assert block.from_batch(pd.DataFrame({"a": [1, 2]})).equals(expected)
    assert block.from_batch(expected) is expected
    with pytest.raises(ValueError, match="returned a value of type <class 'list'>"):
        block.from_batch([1, 2])
    with pytest.raises(ValueError, match="different lengths"):
        block.from_batch({"a": [1, 2], "b": [1]})


def test_unknown_batch_format_names_the_allowed_ones():
    with pytest.raises(ValueError, match=r"must be one of \['default', 'numpy', 'pandas'"):
        block.to_batch(pa.table({"a": [1]}), "arrow")


def test_concat_with_different_schemas_says_what_to_fix():
    with pytest.raises(ValueError, match="same columns"):
        block.concat([pa.table({"a": [1]}), pa.table({"a": ["x"]})])
    assert block.concat([block.empty_block(), pa.table({"a": [1]})]).num_rows == 1
