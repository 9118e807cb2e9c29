"""A failing user function names the operator and the batch and shows the user's traceback
first; wrong return types and bad arguments get clear errors (rayground and Ray Data)."""

from __future__ import annotations

import pytest


def _explode(row):
    if row["id"] == 7:
        raise KeyError("no such thing")
    return row


def test_udf_error_is_user_code_exception_with_the_cause(ray):
    with pytest.raises(ray.exceptions.UserCodeException) as info:
        ray.data.range(10).map(_explode).take_all()
    assert "KeyError" in str(info.value)
    assert "no such thing" in str(info.value)


def test_udf_error_names_operator_and_batch_and_user_frame_first(rg):
    with pytest.raises(rg.exceptions.UserCodeException) as info:
        rg.data.range(10, override_num_blocks=2).map(_explode).take_all()
    text = str(info.value)
    assert "Map(_explode)" in text  # the task (and the message) name the operator
    assert "block 1" in text and "row 2" in text  # id 7 is the third row of the second block
    user = text.index('raise KeyError("no such thing")')
    first_internal = min(
        (i for i in (text.find("rayground/data/transform.py"), text.find("_core")) if i >= 0),
        default=len(text),
    )
    assert user < first_internal


def test_map_batches_returning_wrong_type(ray):
    with pytest.raises(ValueError, match="returned a value of type"):
        ray.data.range(3).map_batches(lambda b: 1).take_all()


def test_map_returning_a_non_dict(ray):
    with pytest.raises(ValueError, match="Standalone Python objects are not allowed"):
        ray.data.range(3).map(lambda r: 5).take_all()


def test_constructor_args_need_a_class(ray):
    with pytest.raises(ValueError, match="callable class"):
        ray.data.range(3).map_batches(lambda b: b, fn_constructor_args=(1,))


def test_zip_of_different_lengths(ray):
    with pytest.raises(ValueError, match="different number of rows"):
        ray.data.range(3).zip(ray.data.range(4)).take_all()
