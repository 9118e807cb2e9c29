"""Expected differences from Ray: declared on the tests that observe them, held to being observed,
and listed in docs/ray-compatibility.md, which is generated from them and must be current."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent

_spec = importlib.util.spec_from_file_location(
    "ray_compat_doc", ROOT / "scripts" / "ray_compat_doc.py"
)
assert _spec is not None and _spec.loader is not None
doc = importlib.util.module_from_spec(_spec)
sys.modules["ray_compat_doc"] = doc  # dataclasses look their module up there
_spec.loader.exec_module(doc)


def test_the_doc_is_generated_from_the_markers():
    assert doc.DOC.read_text() == doc.generate(), (
        "docs/ray-compatibility.md is stale: run `python scripts/ray_compat_doc.py` (and edit "
        "docs/ray-compatibility.in.md or the tests' @pytest.mark.differs, not the doc)"
    )


def test_the_doc_names_the_pinned_release_and_every_marked_test():
    text = doc.DOC.read_text()
    release = doc.ray_release()
    assert f"Reference: Ray {release}" in text
    differences = doc.collect()
    assert len(differences) >= 10
    for diff in differences:
        assert f"`{diff.test}`" in text
        name = diff.test.split("::")[-1]
        assert f"def {name}(" in (TESTS / diff.test.split("::")[0]).read_text()


def test_check_mode_says_when_the_doc_is_stale(tmp_path, monkeypatch):
    monkeypatch.setattr(doc, "DOC", tmp_path / "ray-compatibility.md")
    doc.DOC.write_text("an old list\n")
    assert doc.main(["--check"]) == 1
    assert doc.main([]) == 0
    assert doc.main(["--check"]) == 0


def _write_tests(root: Path, body: str) -> Path:
    (root / "compat").mkdir(parents=True, exist_ok=True)
    path = root / "compat" / "test_thing.py"
    path.write_text(textwrap.dedent(body))
    return path


def test_rows_come_from_markers_in_source_order(tmp_path):
    _write_tests(
        tmp_path,
        """
        import pytest

        DIFFERENCES_SECTION = "Things"

        @pytest.mark.differs("ray", what="B | pipe", ray="r", rayground="g", why="w")
        def test_b(ray, differs):
            pass

        @pytest.mark.differs(
            "rayground", what="A", ray="r2", rayground="g2", why="long "
            "reason", section="Other", raises=KeyError,
        )
        def test_a(ray):
            pass
        """,
    )
    differences = doc.collect(tmp_path)
    assert [(d.section, d.on, d.what, d.why) for d in differences] == [
        ("Things", "ray", "B | pipe", "w"),
        ("Other", "rayground", "A", "long reason"),
    ]
    text = doc.render("intro {{release}}\n\n{{differences}}\n", differences, "9.9.9")
    assert text.startswith("intro 9.9.9\n\n## Things\n\n| What | Ray 9.9.9 | rayground |")
    assert "| B \\| pipe | r | g | w | `compat/test_thing.py::test_b` |" in text
    assert text.index("## Things") < text.index("## Other")


@pytest.mark.parametrize(
    ("marker", "says"),
    [
        ('"ray", what="x", ray="r", rayground="g"', "lacks why"),
        ('"spark", what="x", ray="r", rayground="g", why="w"', "not 'spark'"),
        ('"ray", what=WHAT, ray="r", rayground="g", why="w"', "what=...) must be a non-empty"),
        ('what="x", ray="r", rayground="g", why="w"', "name the odd backend first"),
    ],
)
def test_a_marker_the_doc_cannot_show_is_refused_with_its_place(tmp_path, marker, says):
    _write_tests(
        tmp_path,
        f"""
        import pytest

        @pytest.mark.differs({marker}, section="S")
        def test_x(ray):
            pass
        """,
    )
    with pytest.raises(doc.MarkerError, match=re.escape(says)) as info:
        doc.collect(tmp_path)
    assert str(info.value).startswith("tests/compat/test_thing.py:4:")


# -- the marker's contract, in a nested pytest run -------------------------------------------

NESTED = """
import pytest

SECTION = dict(section="S", why="because")


@pytest.fixture(params=["rayground", "ray"])
def ray(request):
    return request.param


def behaviour(backend, differ_on=None):
    return "odd" if backend == differ_on else "usual"


@pytest.mark.differs("ray", what="w", ray="odd", rayground="usual", **SECTION)
def test_branch_observed(ray, differs):
    if differs:
        assert behaviour(ray, "ray") == "odd"
    else:
        assert behaviour(ray, "ray") == "usual"


@pytest.mark.differs("ray", what="w", ray="odd", rayground="usual", **SECTION)
def test_branch_fixed(ray, differs):
    if differs:
        assert behaviour(ray) == "odd"  # Ray now behaves as rayground does
    else:
        assert behaviour(ray) == "usual"


@pytest.mark.differs("ray", what="w", ray="odd", rayground="usual", **SECTION)
def test_never_branched(ray, differs):
    assert behaviour(ray, "ray") in ("odd", "usual")


@pytest.mark.differs("rayground", what="w", ray="usual", rayground="odd", **SECTION)
def test_xfail_observed(ray):
    assert behaviour(ray, "rayground") == "usual"


@pytest.mark.differs("rayground", what="w", ray="usual", rayground="odd", **SECTION)
def test_xfail_fixed(ray):
    assert behaviour(ray) == "usual"


@pytest.mark.differs("rayground", what="w", ray="usual", rayground="odd", **SECTION)
def test_xfail_other_error(ray):
    if ray == "rayground":
        raise KeyError("a crash is not the declared difference")


@pytest.mark.differs("ray", what="w", ray="odd", rayground="usual", **SECTION)
def test_not_parametrised():
    pass


@pytest.mark.differs("ray", what="w", ray="odd", rayground="usual", section="S")
def test_incomplete(ray):
    pass


def test_fixture_without_marker(ray, differs):
    pass
"""


def test_a_declared_difference_must_be_observed_on_the_backend_it_names(tmp_path):
    for name in ("conftest.py", "_procs.py", "_needs.py", "_differences.py", "_kept_ray.py"):
        shutil.copy(TESTS / name, tmp_path / name)
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nmarkers =\n    differs: an expected difference\n    needs(reason): x\n"
    )
    (tmp_path / "test_nested.py").write_text(NESTED)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout
    got = dict(re.findall(r"::(test_\w+(?:\[\w+\])?) (PASSED|FAILED|XFAIL|ERROR)", out))
    assert got == {
        "test_branch_observed[rayground]": "PASSED",
        "test_branch_observed[ray]": "PASSED",
        "test_branch_fixed[rayground]": "PASSED",
        "test_branch_fixed[ray]": "FAILED",  # the difference is gone: the marker must go
        "test_never_branched[rayground]": "PASSED",
        "test_never_branched[ray]": "FAILED",  # declared, never shown
        "test_xfail_observed[rayground]": "XFAIL",
        "test_xfail_observed[ray]": "PASSED",
        "test_xfail_fixed[rayground]": "FAILED",  # strict: passing there fails the run
        "test_xfail_fixed[ray]": "PASSED",
        "test_xfail_other_error[rayground]": "FAILED",  # only the declared error counts
        "test_xfail_other_error[ray]": "PASSED",
        # A declaration that cannot hold fails before the test runs (in setup: an ERROR).
        "test_not_parametrised": "ERROR",
        "test_incomplete[rayground]": "ERROR",
        "test_incomplete[ray]": "ERROR",
        "test_fixture_without_marker[rayground]": "ERROR",
        "test_fixture_without_marker[ray]": "ERROR",
    }, out[-4000:]
    assert "declares a difference on ray but never branched on `differs` there" in out
    assert "[XPASS(strict)] declared difference on rayground: w. If this passes there" in out
    assert "is not parametrised over the backends" in out
    assert "say why: the generated doc shows each of them" in out
    assert "uses the `differs` fixture without @pytest.mark.differs" in out
