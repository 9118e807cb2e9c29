"""Writer options as Ray 2.60 has them, on rayground and Ray Data, with real files in a tmp dir:
save modes, min/max rows per file, partition_cols, filename_provider, Parquet arguments, and the
file names Ray gives."""

from __future__ import annotations

import re

import pyarrow.parquet as pq
import pytest

ROWS = [{"id": i, "g": i % 3} for i in range(12)]


def _files(d):
    return sorted(p.name for p in d.rglob("*") if p.is_file())


def test_files_are_named_as_ray_names_them(ray, tmp_path):
    ds = ray.data.from_items(ROWS, override_num_blocks=3)
    ds.write_parquet(str(tmp_path / "pq"))
    ds.write_csv(str(tmp_path / "csv"))
    pq_names = _files(tmp_path / "pq")
    assert all(re.fullmatch(r"\w+_[0-9a-f]{32}_\d{6}-0\.parquet", n) for n in pq_names), pq_names
    csv_names = _files(tmp_path / "csv")
    assert all(re.fullmatch(r"\w+_[0-9a-f]{32}_\d{6}\.csv", n) for n in csv_names), csv_names
    assert len({n.split("_")[0] for n in pq_names + csv_names}) == 1  # the dataset's uuid


def test_save_modes(ray, tmp_path):
    ds = ray.data.from_items(ROWS, override_num_blocks=3)
    out = tmp_path / "out"
    ds.write_parquet(str(out))
    ds.write_parquet(str(out))  # append, the default
    assert len(_files(out)) == 6
    ds.write_parquet(str(out), mode="overwrite")
    assert len(_files(out)) == 3
    ds.write_parquet(str(out), mode=ray.data.SaveMode.IGNORE)
    assert len(_files(out)) == 3
    for mode in ("error", "create"):
        with pytest.raises(ValueError, match="already exists"):
            ds.write_parquet(str(out), mode=mode)
    ds.write_csv(str(tmp_path / "new"), mode="error")
    assert len(_files(tmp_path / "new")) == 3


def test_rows_per_file(ray, tmp_path):
    ds = ray.data.from_items(ROWS, override_num_blocks=3)
    ds.write_parquet(str(tmp_path / "min"), min_rows_per_file=8)
    sizes = sorted(
        pq.read_metadata(tmp_path / "min" / n).num_rows for n in _files(tmp_path / "min")
    )
    assert sizes == [4, 8]
    with pytest.warns(DeprecationWarning, match="min_rows_per_file"):
        ds.write_csv(str(tmp_path / "nr"), num_rows_per_file=12)
    assert len(_files(tmp_path / "nr")) == 1
    ray.data.from_items(ROWS, override_num_blocks=1).write_parquet(
        str(tmp_path / "max"), max_rows_per_file=5
    )
    sizes = sorted(
        pq.read_metadata(tmp_path / "max" / n).num_rows for n in _files(tmp_path / "max")
    )
    assert sizes == [2, 5, 5]
    with pytest.raises(ValueError, match="min_rows_per_file"):
        ds.write_parquet(str(tmp_path / "bad"), min_rows_per_file=6, max_rows_per_file=5)


def test_partition_cols_write_hive_directories_read_back(ray, tmp_path):
    ray.data.from_items(ROWS, override_num_blocks=2).write_parquet(
        str(tmp_path / "p"), partition_cols=["g"], compression="gzip"
    )
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["g=0", "g=1", "g=2"]
    one = next((tmp_path / "p" / "g=1").iterdir())
    assert pq.read_schema(one).names == ["id"]
    assert pq.read_metadata(one).row_group(0).column(0).compression == "GZIP"
    back = ray.data.read_parquet(str(tmp_path / "p")).take_all()
    assert sorted((r["id"], r["g"]) for r in back) == [(i, str(i % 3)) for i in range(12)]


def test_filename_provider(ray, tmp_path):
    from importlib import import_module

    datasource = import_module(f"{ray.__name__}.data.datasource")

    class Named(datasource.FilenameProvider):
        def get_filename_for_task(self, write_uuid, task_index):
            return f"part_{write_uuid[:8]}_{task_index}.csv"

    ds = ray.data.from_items(ROWS, override_num_blocks=2)
    ds.write_csv(str(tmp_path / "c"), filename_provider=Named())
    assert [re.sub(r"_[0-9a-f]{8}_", "_X_", n) for n in _files(tmp_path / "c")] == [
        "part_X_0.csv",
        "part_X_1.csv",
    ]

    class NoUuid(datasource.FilenameProvider):
        def get_filename_for_task(self, write_uuid, task_index):
            return f"fixed_{task_index}.parquet"

    with pytest.raises(Exception, match="Write UUID"):
        ds.write_parquet(str(tmp_path / "p"), filename_provider=NoUuid())
    ds.write_parquet(str(tmp_path / "p"), filename_provider=NoUuid(), mode="overwrite")
    assert _files(tmp_path / "p") == ["fixed_0-0.parquet", "fixed_1-0.parquet"]


def test_write_remote_args_and_concurrency(ray, tmp_path):
    ds = ray.data.from_items(ROWS, override_num_blocks=3)
    ds.write_json(str(tmp_path / "j"), concurrency=1, ray_remote_args={"num_cpus": 0.5})
    assert sorted(r["id"] for r in ray.data.read_json(str(tmp_path / "j")).take_all()) == list(
        range(12)
    )


def test_bad_save_mode_fails_clearly(rg, tmp_path):
    with pytest.raises(ValueError, match="not a save mode"):
        rg.data.range(3).write_parquet(str(tmp_path / "x"), mode="replace")
    assert not (tmp_path / "x").exists()


def test_a_write_of_no_rows_leaves_no_directory(ray, tmp_path):
    ray.data.range(10).filter(lambda r: r["id"] < 0).write_parquet(str(tmp_path / "none"))
    assert not (tmp_path / "none").exists()
