"""Every reader and writer round-trips, on rayground and Ray Data; paths as files, directories,
globs and lists; `filesystem=`; bad paths fail at once with the path in the message."""

from __future__ import annotations

import numpy as np
import pyarrow.fs as pafs
import pytest

ROWS = [{"id": i, "name": f"n{i}", "score": i * 0.5} for i in range(30)]


def _sorted(rows):
    return sorted(rows, key=lambda r: r["id"])


@pytest.mark.parametrize("fmt", ["parquet", "csv", "json"])
def test_write_then_read_round_trip(ray, tmp_path, fmt):
    out = tmp_path / fmt
    getattr(ray.data.from_items(ROWS, override_num_blocks=3), f"write_{fmt}")(str(out))
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 3 and all(f.endswith("." + fmt) for f in files)
    back = getattr(ray.data, f"read_{fmt}")(str(out))
    assert _sorted(back.take_all()) == ROWS


def test_read_paths_as_file_list_and_glob(ray, tmp_path):
    ray.data.from_items(ROWS, override_num_blocks=3).write_parquet(str(tmp_path / "pq"))
    files = sorted(str(p) for p in (tmp_path / "pq").iterdir())
    assert ray.data.read_parquet(files[0]).count() == 10
    assert ray.data.read_parquet(files[:2]).count() == 20
    assert ray.data.read_parquet(files, columns=["id"]).columns() == ["id"]
    assert ray.data.read_parquet(files[0], filesystem=pafs.LocalFileSystem()).count() == 10


def test_read_glob(rg, tmp_path):
    rg.data.from_items(ROWS, override_num_blocks=3).write_csv(str(tmp_path / "csv"))
    assert rg.data.read_csv(str(tmp_path / "csv" / "*.csv")).count() == 30


def test_text_binary_numpy(ray, tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.txt").write_text("hello\n\nworld\n")
    (tmp_path / "t" / "b.txt").write_text("again\n")
    assert sorted(r["text"] for r in ray.data.read_text(str(tmp_path / "t")).take_all()) == [
        "again",
        "hello",
        "world",
    ]
    rows = ray.data.read_binary_files(str(tmp_path / "t"), include_paths=True).take_all()
    assert sorted(r["bytes"] for r in rows) == [b"again\n", b"hello\n\nworld\n"]
    assert all(r["path"].endswith(".txt") for r in rows)
    arr = np.arange(20, dtype=np.int64).reshape(10, 2)
    np.save(tmp_path / "x.npy", arr)
    data = ray.data.read_numpy(str(tmp_path / "x.npy")).take_batch(10)["data"]
    np.testing.assert_array_equal(data, arr)
    ray.data.from_numpy(arr).write_numpy(str(tmp_path / "npy"), column="data")
    back = ray.data.read_numpy(str(tmp_path / "npy")).take_batch(10)["data"]
    np.testing.assert_array_equal(np.sort(back, axis=0), arr)


def test_missing_path_fails_at_once_naming_it(ray, tmp_path):
    missing = str(tmp_path / "nope" / "x.parquet")
    with pytest.raises(FileNotFoundError, match="nope"):
        ray.data.read_parquet(missing)


def test_remote_url_without_filesystem_fails_at_once(rg):
    with pytest.raises(ValueError, match=r"s3://my-bucket/data/.*filesystem="):
        rg.data.read_parquet("s3://my-bucket/data/")
    with pytest.raises(ValueError, match="filesystem="):
        rg.data.range(3).write_parquet("s3://my-bucket/processed/")


def test_directory_skips_hidden_and_other_extensions(rg, tmp_path):
    rg.data.from_items(ROWS[:5]).write_parquet(str(tmp_path / "d"))
    (tmp_path / "d" / "_SUCCESS").write_text("")
    (tmp_path / "d" / "notes.txt").write_text("not parquet")
    assert rg.data.read_parquet(str(tmp_path / "d")).count() == 5


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_ignore_missing_paths_skips_only_missing_ones(ray, tmp_path, fmt):
    getattr(ray.data.from_items(ROWS, override_num_blocks=1), f"write_{fmt}")(str(tmp_path / "d"))
    paths = [str(tmp_path / "d"), str(tmp_path / "gone")]
    read = getattr(ray.data, f"read_{fmt}")
    assert _sorted(read(paths, ignore_missing_paths=True).take_all()) == ROWS
    with pytest.raises(FileNotFoundError):
        read(paths).count()
