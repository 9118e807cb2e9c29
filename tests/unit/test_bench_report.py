"""The benchmark document is written by several benchmarks, each owning a section: one
benchmark's run must not drop another's figures (the core run once dropped Data, Tune and
Serve)."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def _report():
    sys.path.insert(0, str(BENCH))
    try:
        import report
    finally:
        sys.path.remove(str(BENCH))
    return report


def test_a_section_replaces_its_own_and_keeps_the_others(tmp_path):
    report = _report()
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n## Data\n\nold data\n\n## Tune\n\ntune figures\n")
    report.replace_section(doc, "## Data", "## Data\n\nnew data\n")
    assert doc.read_text() == "# Benchmarks\n\n## Data\n\nnew data\n\n## Tune\n\ntune figures\n"
    report.replace_section(doc, "## Serve", "## Serve\n\nserve figures\n")
    assert doc.read_text().endswith("## Tune\n\ntune figures\n\n## Serve\n\nserve figures\n")


def test_the_core_run_keeps_the_library_sections(tmp_path):
    report = _report()
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# old core table\n\n## Tune\n\ntune figures\n\n## Serve\n\nserve figures\n")
    kept = report._kept_sections(doc)
    assert "## Tune\n\ntune figures\n" in kept and "## Serve\n\nserve figures\n" in kept
    assert "old core table" not in kept
