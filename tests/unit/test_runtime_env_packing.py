"""runtime_env.py without a cluster: checking, merging, packing (content hash, excludes, ignore
files, size limit), unpacking, and workers keyed by the files they entered."""

from __future__ import annotations

import io
import os
import stat
import zipfile
from pathlib import Path

import pytest

import rayground
from rayground._core import runtime_env
from rayground._core.worker_pool import WorkerPool, WorkerProc


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _names(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return sorted(zf.namelist())


# ------------------------------------------------------------------ checking and merging


def test_fields_that_need_a_package_manager_point_to_the_ray_backend():
    for key in ("pip", "conda", "uv", "container", "image_uri"):
        with pytest.raises(ValueError, match=r"cannot be honoured by rayground.*--backend ray"):
            runtime_env.validate({key: ["requests"]})


def test_a_missing_working_dir_fails_at_init_before_a_cluster_starts(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ValueError, match="must be an existing directory or a supported archive"):
        rayground.init(num_cpus=1, runtime_env={"working_dir": str(missing)})
    with pytest.raises(ValueError, match=r"py_modules entry must be a \.py file, a directory"):
        rayground.init(num_cpus=1, runtime_env={"py_modules": [str(missing)]})
    assert not rayground.is_initialized()


def test_merge_is_per_field_and_per_env_var_with_the_child_winning():
    parent = {"working_dir": "gcs://_ray_pkg_a.zip", "env_vars": {"A": "1", "B": "1"}}
    child = {"py_modules": ["gcs://_ray_pkg_b.zip"], "env_vars": {"B": "2"}}
    assert runtime_env.merge(parent, child) == {
        "working_dir": "gcs://_ray_pkg_a.zip",
        "py_modules": ["gcs://_ray_pkg_b.zip"],
        "env_vars": {"A": "1", "B": "2"},
    }
    assert runtime_env.merge(parent, {"working_dir": "gcs://_ray_pkg_c.zip"})["working_dir"] == (
        "gcs://_ray_pkg_c.zip"
    )


# ------------------------------------------------------------------ packing


def test_the_uri_is_the_hash_of_paths_and_contents(tmp_path):
    one = _tree(tmp_path / "one", {"a.py": "x = 1", "d/b.txt": "b"})
    two = _tree(tmp_path / "two", {"a.py": "x = 1", "d/b.txt": "b"})
    uri_one, data = runtime_env.pack_directory(one, [])
    uri_two, _ = runtime_env.pack_directory(two, [])
    assert uri_one == uri_two  # same content wherever it lives: uploaded once
    assert uri_one.startswith("gcs://_ray_pkg_") and uri_one.endswith(".zip")
    assert _names(data) == ["a.py", "d/b.txt"]
    (two / "a.py").write_text("x = 2")
    assert runtime_env.pack_directory(two, [])[0] != uri_one
    (one / "d" / "b.txt").rename(one / "d" / "c.txt")
    assert runtime_env.pack_directory(one, [])[0] != uri_one  # a rename changes it too


@pytest.mark.parametrize(
    ("patterns", "kept"),
    [
        (["*.log"], ["keep.txt", "logs/inner.txt", "src/deep/x.tmp", "src/main.py", "top.txt"]),
        (["logs/"], ["a.log", "keep.txt", "src/deep/x.tmp", "src/main.py", "top.txt"]),
        (["/top.txt"], ["a.log", "keep.txt", "logs/inner.txt", "src/deep/x.tmp", "src/main.py"]),
        (["**/deep/*.tmp", "a.*"], ["keep.txt", "logs/inner.txt", "src/main.py", "top.txt"]),
        (["*.txt", "!keep.txt"], ["a.log", "keep.txt", "src/deep/x.tmp", "src/main.py"]),
        (["src"], ["a.log", "keep.txt", "logs/inner.txt", "top.txt"]),
        (["src/*.py"], ["a.log", "keep.txt", "logs/inner.txt", "src/deep/x.tmp", "top.txt"]),
    ],
)
def test_excludes_are_gitignore_patterns(tmp_path, patterns, kept):
    root = _tree(
        tmp_path / "wd",
        {
            "a.log": "",
            "keep.txt": "",
            "top.txt": "",
            "logs/inner.txt": "",
            "src/main.py": "",
            "src/deep/x.tmp": "",
        },
    )
    assert _names(runtime_env.pack_directory(root, patterns)[1]) == kept


def test_ignore_files_apply_below_their_directory(tmp_path):
    root = _tree(
        tmp_path / "wd",
        {
            ".rayignore": "*.bin\n",
            "sub/.gitignore": "# a comment\n\ncache/\n",
            "sub/cache/x.txt": "",
            "sub/y.txt": "",
            "cache/z.txt": "",
            "w.bin": "",
        },
    )
    names = _names(runtime_env.pack_directory(root, [])[1])
    assert names == [".rayignore", "cache/z.txt", "sub/.gitignore", "sub/y.txt"]


def test_the_default_excludes_are_rays(tmp_path, monkeypatch):
    root = _tree(tmp_path / "wd", {".git/HEAD": "", "__pycache__/m.pyc": "", "m.py": ""})
    renv = runtime_env.validate({"working_dir": str(root)})
    assert _names(runtime_env.pack(renv)[str(root)][1]) == ["m.py"]
    monkeypatch.setenv("RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES", "")
    assert len(_names(runtime_env.pack(renv)[str(root)][1])) == 3


def test_a_package_over_the_limit_fails_with_rays_advice(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime_env, "MAX_PACKAGE_SIZE", 1000)
    root = _tree(tmp_path / "wd", {"big.bin": "x" * 2000})
    with pytest.raises(ValueError, match=r"Package size \(.*\) exceeds the maximum size") as err:
        runtime_env.pack(runtime_env.validate({"working_dir": str(root)}))
    assert "excludes" in str(err.value) and ".rayignore" in str(err.value)
    assert runtime_env.pack(runtime_env.validate({"working_dir": str(root), "excludes": ["*.bin"]}))


def test_a_py_module_directory_keeps_its_name(tmp_path):
    pkg = _tree(tmp_path / "mypkg", {"__init__.py": "V = 1", "sub.py": ""})
    single = _tree(tmp_path, {"single.py": "W = 2"}) / "single.py"
    renv = runtime_env.validate({"py_modules": [str(pkg), str(single)]})
    packages = runtime_env.pack(renv)
    assert _names(packages[str(pkg)][1]) == ["mypkg/__init__.py", "mypkg/sub.py"]
    assert _names(packages[str(single)][1]) == ["single.py"]
    shipped = runtime_env.shipped(renv, packages)
    assert shipped["py_modules"] == [packages[str(pkg)][0], packages[str(single)][0]]


def test_a_zip_working_dir_with_one_top_directory_stands_for_it(tmp_path):
    archive = tmp_path / "wd.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("project/", "")
        zf.writestr("project/m.py", "A = 1")
        zf.writestr("project/d/f.txt", "f")
    renv = runtime_env.validate({"working_dir": str(archive)})
    assert _names(runtime_env.pack(renv)[str(archive)][1]) == ["d/f.txt", "m.py"]


# ------------------------------------------------------------------ the head's store, unpacking


class _FakeClient:
    """Answers package requests from a PackageStore, as the head does."""

    def __init__(self) -> None:
        self.store = runtime_env.PackageStore()
        self.puts = 0

    def request(self, what: str, args: dict, timeout: float = 30.0):
        if what == "package_has":
            return self.store.has(args["uri"])
        if what == "package_put":
            self.puts += 1
            return self.store.put(args["uri"], args["offset"], args["size"], args["data"])
        if what == "package_get":
            return self.store.get(args["uri"], args["offset"])
        raise AssertionError(what)


def test_upload_in_pieces_once_then_unpack_owner_only(tmp_path, monkeypatch):
    monkeypatch.setattr(runtime_env, "CHUNK", 7)
    root = _tree(tmp_path / "wd", {"m.py": "A = 1", "d/f.txt": "content " * 20})
    renv = runtime_env.validate({"working_dir": str(root)})
    packages = runtime_env.pack(renv)
    client = _FakeClient()
    runtime_env.upload(client, packages)
    uri, data = packages[str(root)]
    assert client.puts == -(-len(data) // 7)
    runtime_env.upload(client, packages)  # the head has it: nothing is sent again
    assert client.puts == -(-len(data) // 7)

    cache = tmp_path / "session" / "runtime_resources"
    target = runtime_env.local_dir(client, str(cache), uri)
    assert (Path(target) / "d" / "f.txt").read_text() == "content " * 20
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o700
    assert runtime_env.local_dir(client, str(cache), uri) == target  # unpacked once
    assert os.listdir(cache) == [os.path.basename(target)]  # no temporary left behind


def test_a_package_the_head_lacks_is_a_setup_error(tmp_path):
    with pytest.raises(rayground.exceptions.RuntimeEnvSetupError, match="not in the cluster"):
        runtime_env.local_dir(_FakeClient(), str(tmp_path), "gcs://_ray_pkg_0123456789abcdef.zip")


def test_a_package_writing_outside_its_directory_is_refused(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../escape.txt", "x")
    client = _FakeClient()
    uri = "gcs://_ray_pkg_00000000000000ff.zip"
    client.store.put(uri, 0, len(buf.getvalue()), buf.getvalue())
    with pytest.raises(rayground.exceptions.RuntimeEnvSetupError, match="outside its directory"):
        runtime_env.local_dir(client, str(tmp_path / "cache"), uri)
    assert not (tmp_path / "escape.txt").exists()


# ------------------------------------------------------------------ workers keyed by runtime env


def test_an_idle_worker_serves_only_its_own_runtime_env():
    pool = WorkerPool({"session_dir": "/nonexistent"}, {})
    plain, bound, fresh = (WorkerProc(name, 0, "") for name in ("plain", "bound", "fresh"))
    plain.env_key, bound.env_key = (
        "",
        runtime_env.worker_key({"working_dir": "gcs://_ray_pkg_a.zip"}),
    )
    for worker in (plain, bound, fresh):
        pool.make_idle(worker)
    key = runtime_env.worker_key({"working_dir": "gcs://_ray_pkg_a.zip", "env_vars": {"X": "1"}})
    assert key == bound.env_key  # env_vars are set per task: they do not bind a worker
    assert pool.take_idle(key) is bound
    other = runtime_env.worker_key({"py_modules": ["gcs://_ray_pkg_b.zip"]})
    assert pool.take_idle(other) is fresh and fresh.env_key == other  # bound from now on
    assert pool.take_idle(other) is None  # `plain` ran tasks without it: a new worker is due
    assert pool.take_idle("") is plain
