"""rayground.data's readers, writers and map methods take the parameters Ray Data 2.60's do,
by the same names and with the same plain defaults (None, bools, numbers, strings, lists), so
code written for one runs on the other."""

from __future__ import annotations

import inspect

import pytest

import rayground.data as rg_data
from _needs import need_module

READERS = ["read_parquet", "read_csv", "read_json", "read_text", "read_numpy", "read_binary_files"]
DATASET_METHODS = [
    "map",
    "map_batches",
    "flat_map",
    "filter",
    "add_column",
    "drop_columns",
    "select_columns",
    "rename_columns",
    "with_column",
    "iter_torch_batches",
    "write_parquet",
    "write_csv",
    "write_json",
    "write_numpy",
]
# Ray's parameters rayground does not take, and why (each is reported to the lead).
NOT_TAKEN = {
    "udf_modifying_row_count",  # a hint to Ray's optimizer; rayground counts rows after each map
}


def _plain(value):
    return value is None or isinstance(value, bool | int | float | str | list | tuple)


def _compare(ours, theirs, where):
    ours_p = inspect.signature(ours).parameters
    theirs_p = inspect.signature(theirs).parameters
    missing = set(theirs_p) - set(ours_p) - NOT_TAKEN
    assert not missing, f"{where} lacks Ray's parameters {sorted(missing)}"
    for name, p in theirs_p.items():
        if name not in ours_p or not _plain(p.default) or p.default is inspect.Parameter.empty:
            continue
        mine = ours_p[name].default
        assert mine == p.default, f"{where}({name}=) defaults to {mine!r}, Ray's: {p.default!r}"
        assert ours_p[name].kind == p.kind, f"{where}({name}) is {ours_p[name].kind}, not {p.kind}"


@pytest.mark.ray
@pytest.mark.parametrize("name", READERS)
def test_readers_take_rays_parameters(name):
    ray_data = need_module("ray.data", "real Ray is not installed: the `ray` extra")
    _compare(getattr(rg_data, name), getattr(ray_data, name), name)


@pytest.mark.ray
@pytest.mark.parametrize("name", DATASET_METHODS)
def test_dataset_methods_take_rays_parameters(name):
    ray_data = need_module("ray.data", "real Ray is not installed: the `ray` extra")
    _compare(getattr(rg_data.Dataset, name), getattr(ray_data.Dataset, name), f"Dataset.{name}")


def test_default_partitioning_is_hive_for_tabular_readers():
    params = inspect.signature(rg_data.read_parquet).parameters
    assert params["partitioning"].default == rg_data.datasource.Partitioning("hive")
    assert inspect.signature(rg_data.read_text).parameters["partitioning"].default is None
