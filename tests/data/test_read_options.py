"""Reader options as Ray 2.60 has them, on rayground and Ray Data, with real files in a tmp dir:
hive/directory partitioning (keys become columns; Partitioning, PathPartitionFilter),
file_extensions, include_paths, shuffle, columns, filter=, arrow_open_stream_args, concurrency
and remote args."""

from __future__ import annotations

import gzip

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

ROWS = [{"id": i, "v": i * 10} for i in range(12)]


def _by_id(rows):
    return sorted(rows, key=lambda r: r["id"])


@pytest.fixture
def hive(tmp_path):
    """root/g=<id % 3>/s=x<id % 2>/part.parquet (and .csv beside it): 6 partitions, 2 rows each."""
    root = tmp_path / "hive"
    for g in range(3):
        for s in range(2):
            d = root / f"g={g}" / f"s=x{s}"
            d.mkdir(parents=True)
            rows = [r for r in ROWS if r["id"] % 3 == g and r["id"] % 2 == s]
            table = pa.Table.from_pylist(rows)
            pq.write_table(table, d / "part.parquet")
            pacsv.write_csv(table, d / "part.csv")
    return root


def test_hive_directories_become_string_columns(ray, hive):
    ds = ray.data.read_parquet(str(hive))
    assert ds.columns() == ["id", "v", "g", "s"]
    rows = _by_id(ds.take_all())
    assert rows[5] == {"id": 5, "v": 50, "g": "2", "s": "x1"}
    assert len(rows) == 12
    csv_rows = _by_id(ray.data.read_csv(str(hive), file_extensions=["csv"]).take_all())
    assert csv_rows == rows


def test_partitioning_none_types_and_directory_style(ray, hive):
    from importlib import import_module

    part = import_module(f"{ray.__name__}.data.datasource.partitioning")
    assert ray.data.read_parquet(str(hive), partitioning=None).columns() == ["id", "v"]
    typed = ray.data.read_parquet(
        str(hive), partitioning=part.Partitioning("hive", field_types={"g": int})
    )
    assert {r["g"] for r in typed.take_all()} == {0, 1, 2}
    by_dir = ray.data.read_parquet(
        str(hive),
        partitioning=part.Partitioning("dir", field_names=["a", "b"], base_dir=str(hive)),
    )
    assert {(r["a"], r["b"]) for r in by_dir.take_all()} == {
        (f"g={g}", f"s=x{s}") for g in range(3) for s in range(2)
    }


def test_partition_filter_reads_only_accepted_partitions(ray, hive):
    from importlib import import_module

    datasource = import_module(f"{ray.__name__}.data.datasource")
    keep_g1 = datasource.PathPartitionFilter.of(lambda keys: keys["g"] == "1")
    rows = ray.data.read_parquet(str(hive), partition_filter=keep_g1).take_all()
    assert sorted(r["id"] for r in rows) == [1, 4, 7, 10]
    nothing = datasource.PathPartitionFilter.of(lambda keys: False)
    with pytest.raises(ValueError, match="partition_filter"):
        ray.data.read_parquet(str(hive), partition_filter=nothing).count()


def test_file_extensions_include_paths_and_shuffle(ray, hive):
    with pytest.raises(ValueError, match="file_extensions"):
        ray.data.read_csv(str(hive), file_extensions=["tsv"]).count()
    rows = ray.data.read_csv(str(hive), file_extensions=["csv"], include_paths=True).take_all()
    assert all(r["path"].endswith(f"g={r['g']}/s={r['s']}/part.csv") for r in rows)
    shuffled = ray.data.read_parquet(str(hive), shuffle="files")
    assert _by_id(shuffled.take_all()) == _by_id(ray.data.read_parquet(str(hive)).take_all())
    seeded = ray.data.read_parquet(str(hive), shuffle=ray.data.FileShuffleConfig(seed=7))
    assert seeded.count() == 12
    with pytest.raises(ValueError, match="Invalid value for 'shuffle'"):
        ray.data.read_parquet(str(hive), shuffle="rows")


def test_columns_and_filter_as_ray_has_them(ray, hive):
    with pytest.warns(DeprecationWarning, match="select_columns"):
        ds = ray.data.read_parquet(str(hive), columns=["id"], partitioning=None)
    assert ds.columns() == ["id"]
    import pyarrow.dataset as pds

    with pytest.raises(ValueError, match=r"filter\(expr=expr\)"):
        ray.data.read_parquet(str(hive), filter=pds.field("id") > 3)


def test_open_stream_args_concurrency_and_remote_args(ray, tmp_path):
    (tmp_path / "gz").mkdir()
    for i in range(3):
        body = "id,v\n" + "".join(f"{r['id']},{r['v']}\n" for r in ROWS[i * 4 : i * 4 + 4])
        (tmp_path / "gz" / f"part{i}.csv").write_bytes(gzip.compress(body.encode()))
    ds = ray.data.read_csv(
        str(tmp_path / "gz"),
        arrow_open_stream_args={"compression": "gzip"},
        concurrency=1,
        num_cpus=0.5,
        ray_remote_args={"max_retries": 1},
        override_num_blocks=3,
    )
    assert _by_id(ds.take_all()) == ROWS
    with pytest.raises(ValueError, match="num_cpu"):
        ray.data.read_csv(
            str(tmp_path / "gz"),
            arrow_open_stream_args={"compression": "gzip"},
            ray_remote_args={"num_cpu": 1},
        ).count()


def test_read_tasks_follow_override_num_blocks_and_skip_paths(rg, hive):
    ds = rg.data.read_parquet(str(hive), override_num_blocks=2).materialize()
    assert ds.num_blocks() == 2 and ds.count() == 12
    skipped = str(hive / "g=0" / "s=x0" / "part.parquet")
    assert rg.data.read_parquet(str(hive), skip_paths=[skipped]).count() == 10
    with pytest.raises(TypeError, match="Partitioning"):
        rg.data.read_parquet(str(hive), partitioning="hive")


def test_shuffle_files_deals_a_new_order_per_execution_unless_seeded(rg, tmp_path):
    for i in range(8):
        pq.write_table(pa.table({"id": [i]}), tmp_path / f"f{i}.parquet")
    fixed = rg.data.read_parquet(
        str(tmp_path), shuffle=rg.data.FileShuffleConfig(seed=3, reseed_after_execution=False)
    )
    first = [r["id"] for r in fixed.take_all()]
    assert [r["id"] for r in fixed.take_all()] == first and sorted(first) == list(range(8))
    assert first != list(range(8))  # seed 3 does move files (fixed seed: always this order)
    random_order = rg.data.read_parquet(str(tmp_path), shuffle="files")
    orders = {tuple(r["id"] for r in random_order.take_all()) for _ in range(4)}
    assert len(orders) > 1
