"""The committed diagrams are what scripts/make_assets.py draws, and the lessons carry them all."""

from __future__ import annotations

import base64
import re
import subprocess
import sys

from course_notebooks import ROOT, lesson_stems, read
from matplotlib.testing.compare import compare_images

ASSETS = ROOT / "assets" / "course"


def test_script_regenerates_the_committed_pngs(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_assets.py"), "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    drawn = sorted(p.name for p in tmp_path.glob("*.png"))
    committed = sorted(p.name for p in ASSETS.glob("*.png"))
    assert drawn == committed, "run `python scripts/make_assets.py` and commit assets/course/"
    for name in drawn:
        # RMS tolerance 1: one changed letter in a label measures ~2.8, so edits are caught.
        diff = compare_images(str(ASSETS / name), str(tmp_path / name), tol=1.0)
        assert diff is None, f"{name} differs from what the script draws: {diff}"


def test_every_lesson_carries_its_diagrams_and_every_diagram_is_shown():
    """Images are attachments of their markdown cell, equal to the committed PNGs: they show
    however a lesson is opened (no link points outside the notebook's folder)."""
    used = set()
    for stem in lesson_stems():
        for cell in read(stem).cells:
            if cell.cell_type != "markdown":
                continue
            targets = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", cell.source)
            for target in targets:
                assert target.startswith("attachment:"), (
                    f"{stem} links {target}: run `python scripts/make_assets.py` to embed it"
                )
                name = target.removeprefix("attachment:")
                data = cell.get("attachments", {}).get(name, {}).get("image/png")
                assert data, f"{stem} shows {name} but does not carry it"
                assert base64.b64decode(data) == (ASSETS / name).read_bytes(), (
                    f"{stem}'s copy of {name} is stale: run `python scripts/make_assets.py`"
                )
                used.add(name)
    assert used == {p.name for p in ASSETS.glob("*.png")}
