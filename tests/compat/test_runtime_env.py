"""runtime_env: a job's working_dir, excludes, py_modules and env_vars, and what tasks and actors
add to them, held to real Ray's behaviour.

This module gets its own cluster: ``init(num_cpus=2, runtime_env=JOB_ENV)``, the directories
under tests/compat/_runtime_env_data. Tasks must see the *shipped* copies (the package the
driver uploaded, unpacked on the node), never the driver's own files.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "_runtime_env_data"
WORKING_DIR = DATA / "working_dir"
JOB_ENV = {
    "env_vars": {"RENV_A": "job", "RENV_B": "job"},
    "working_dir": str(WORKING_DIR),
    "excludes": ["*.log"],
    "py_modules": [
        str(DATA / "py_modules" / "renv_pkg"),
        str(DATA / "py_modules" / "renv_single.py"),
    ],
}
INIT_KWARGS = {"runtime_env": JOB_ENV}
PKG_PREFIX = "gcs://_ray_pkg_"


def _env_and_context(ray):
    """What a task sees (a closure per test: the test module is not importable in Ray's
    workers, so what runs there must travel by value)."""

    def read():
        return (
            {k: os.environ.get(k) for k in ("RENV_A", "RENV_B", "RENV_C")},
            dict(ray.get_runtime_context().runtime_env),
        )

    return read


def test_the_driver_sees_the_job_env_with_packages_as_uris(ray):
    renv = ray.get_runtime_context().runtime_env
    assert renv["env_vars"] == {"RENV_A": "job", "RENV_B": "job"}
    assert renv["working_dir"].startswith(PKG_PREFIX) and renv["working_dir"].endswith(".zip")
    assert len(renv["py_modules"]) == 2
    assert all(m.startswith(PKG_PREFIX) for m in renv["py_modules"])
    assert "excludes" not in renv  # applied while packing, then dropped (as Ray does)


def test_a_task_runs_in_the_shipped_working_dir(ray):
    @ray.remote
    def look():
        import renv_wd_module

        with open("sub/data.txt") as f:
            data = f.read().strip()
        files = sorted(str(p) for p in Path(".").rglob("*") if p.is_file())
        return renv_wd_module.ANSWER, renv_wd_module.__file__, os.getcwd(), data, files

    answer, module_file, cwd, data, files = ray.get(look.remote(), timeout=60)
    assert answer == 41
    assert data == "from the working_dir"
    assert "runtime_resources" in cwd
    assert Path(module_file).resolve().parent == Path(cwd).resolve()  # not the driver's copy
    assert not module_file.startswith(str(DATA))
    # *.log by the excludes, scratch/ by the directory's .rayignore
    assert files == [".rayignore", "renv_wd_module.py", "sub/data.txt"]


def test_py_modules_are_importable_from_their_shipped_copies(ray):
    @ray.remote
    def modules():
        import renv_pkg
        import renv_single

        return renv_pkg.VALUE, renv_single.VALUE, renv_pkg.__file__, renv_single.__file__

    pkg_value, single_value, pkg_file, single_file = ray.get(modules.remote(), timeout=60)
    assert (pkg_value, single_value) == (7, 8)
    assert "runtime_resources" in pkg_file and "runtime_resources" in single_file
    assert not pkg_file.startswith(str(DATA)) and not single_file.startswith(str(DATA))


def test_task_env_vars_merge_over_the_jobs_per_variable(ray):
    read = _env_and_context(ray)

    @ray.remote
    def env():
        return read()

    plain_env, plain_renv = ray.get(env.remote(), timeout=60)
    assert plain_env == {"RENV_A": "job", "RENV_B": "job", "RENV_C": None}
    assert plain_renv["env_vars"] == {"RENV_A": "job", "RENV_B": "job"}

    options = {"env_vars": {"RENV_B": "task", "RENV_C": "c"}}
    task_env, task_renv = ray.get(env.options(runtime_env=options).remote(), timeout=60)
    assert task_env == {"RENV_A": "job", "RENV_B": "task", "RENV_C": "c"}
    assert task_renv["env_vars"] == {"RENV_A": "job", "RENV_B": "task", "RENV_C": "c"}
    # the rest of the job's runtime_env is kept
    assert task_renv["working_dir"] == plain_renv["working_dir"]
    assert task_renv["py_modules"] == plain_renv["py_modules"]
    # and a task's variables do not leak into the next task on the same worker
    assert ray.get(env.remote(), timeout=60)[0]["RENV_C"] is None


def test_a_nested_task_inherits_its_parents_runtime_env(ray):
    read = _env_and_context(ray)

    @ray.remote
    def child():
        return read()

    @ray.remote(runtime_env={"env_vars": {"RENV_C": "parent"}})
    def parent():
        import renv_wd_module  # the working_dir reaches the child's worker too

        inner = ray.get(child.options(runtime_env={"env_vars": {"RENV_B": "child"}}).remote())
        return renv_wd_module.ANSWER, inner

    answer, (env, renv) = ray.get(parent.remote(), timeout=60)
    assert answer == 41
    assert env == {"RENV_A": "job", "RENV_B": "child", "RENV_C": "parent"}
    assert renv["working_dir"].startswith(PKG_PREFIX)


def test_an_actor_keeps_its_runtime_env_for_every_call(ray):
    read = _env_and_context(ray)

    @ray.remote
    class Holder:
        def env(self):
            import renv_pkg

            return read(), renv_pkg.VALUE, os.getcwd()

    actor = Holder.options(runtime_env={"env_vars": {"RENV_B": "actor"}}).remote()
    for _ in range(2):
        (env, renv), value, cwd = ray.get(actor.env.remote(), timeout=60)
        assert env == {"RENV_A": "job", "RENV_B": "actor", "RENV_C": None}
        assert renv["env_vars"]["RENV_B"] == "actor"
        assert value == 7
        assert "runtime_resources" in cwd
    ray.kill(actor)


def test_a_task_may_name_an_uploaded_package_by_its_uri(ray):
    @ray.remote
    def where():
        import renv_wd_module

        return renv_wd_module.ANSWER, ray.get_runtime_context().runtime_env["working_dir"]

    uri = ray.get_runtime_context().runtime_env["working_dir"]
    assert ray.get(where.options(runtime_env={"working_dir": uri}).remote(), timeout=60) == (
        41,
        uri,
    )


def test_local_paths_are_for_the_job_only(ray):
    @ray.remote
    def f():
        return 1

    for key, value in (("working_dir", str(WORKING_DIR)), ("py_modules", [str(WORKING_DIR)])):
        with pytest.raises(ValueError, match="only supported at the job level"):
            f.options(runtime_env={key: value}).remote()


def test_malformed_fields_are_refused(ray):
    @ray.remote
    def f():
        return 1

    with pytest.raises(TypeError, match=r"env_vars'\] must be of type Dict\[str, str\]"):
        f.options(runtime_env={"env_vars": {"A": 1}}).remote()
    with pytest.raises(TypeError, match="py_modules"):
        f.options(runtime_env={"py_modules": "renv_pkg"}).remote()


def test_an_unknown_field_is_kept_and_the_task_runs(ray):
    @ray.remote
    def fields():
        return sorted(ray.get_runtime_context().runtime_env)

    assert "renv_unknown_field" in ray.get(
        fields.options(runtime_env={"renv_unknown_field": 1}).remote(), timeout=60
    )


def test_a_runtime_env_object_is_a_dict_and_is_accepted(ray):
    runtime_env_module = importlib.import_module(f"{ray.__name__}.runtime_env")

    @ray.remote
    def read():
        return os.environ.get("RENV_C")

    options = runtime_env_module.RuntimeEnv(env_vars={"RENV_C": "object"})
    assert ray.get(read.options(runtime_env=options).remote(), timeout=60) == "object"
    renv = ray.get_runtime_context().runtime_env
    assert isinstance(renv, dict) and isinstance(renv, runtime_env_module.RuntimeEnv)
    assert renv.env_vars() == {"RENV_A": "job", "RENV_B": "job"}
    assert renv.working_dir() == renv["working_dir"]
    assert renv.py_modules() == renv["py_modules"]
