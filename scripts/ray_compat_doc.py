"""Generate docs/ray-compatibility.md from the tests' expected-difference markers.

    python scripts/ray_compat_doc.py           # rewrite the doc
    python scripts/ray_compat_doc.py --check   # exit 1, saying so, if the doc is stale

The doc is docs/ray-compatibility.in.md (hand-written: the introduction and the decisions that
no test can observe) with its ``{{differences}}`` line replaced by one table per section, built
from every ``@pytest.mark.differs(...)`` under tests/ (tests/_differences.py says what a marker
holds a test to). The markers are read from the source, not imported, so the doc does not depend
on which extras this machine has. The Ray release named is the one the `ray` extra pins in
pyproject.toml. tests/test_compat_doc.py fails when the committed doc is not this output.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ROOT / "tests"
DOC = ROOT / "docs" / "ray-compatibility.md"
TEMPLATE = ROOT / "docs" / "ray-compatibility.in.md"
PYPROJECT = ROOT / "pyproject.toml"
PLACEHOLDER = "{{differences}}"
FIELDS = ("what", "ray", "rayground", "why")
BACKENDS = ("rayground", "ray")


@dataclass(frozen=True)
class Difference:
    section: str
    on: str
    what: str
    ray: str
    rayground: str
    why: str
    test: str  # path under tests/ :: test name
    where: str  # file:line of the marker, for errors


class MarkerError(ValueError):
    """A marker the generator cannot read; the message names the file and line."""


def _is_differs(node: ast.expr) -> bool:
    """`pytest.mark.differs(...)` (or `mark.differs(...)`)."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "differs"
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "mark"
    )


def _text(node: ast.expr, name: str, where: str) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip():
        return " ".join(node.value.split())
    raise MarkerError(f"{where}: differs({name}=...) must be a non-empty string literal")


def _functions(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node
        elif isinstance(node, ast.ClassDef):
            for inner in node.body:
                if isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                    yield f"{node.name}::{inner.name}", inner


def _module_section(tree: ast.Module) -> str | None:
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["DIFFERENCES_SECTION"]
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return None


def differences_in(path: Path, tests: Path = TESTS) -> list[Difference]:
    """The `differs` markers of one test file, in source order."""
    rel = path.relative_to(tests).as_posix()
    tree = ast.parse(path.read_text(), filename=str(path))
    default_section = _module_section(tree)
    found = []
    for name, func in _functions(tree):
        for deco in func.decorator_list:
            if not _is_differs(deco):
                continue
            where = f"tests/{rel}:{deco.lineno}"
            kwargs = {k.arg: k.value for k in deco.keywords}
            on_node = deco.args[0] if deco.args else kwargs.get("on")
            if on_node is None:
                raise MarkerError(f"{where}: name the odd backend first: differs('ray', ...)")
            on = _text(on_node, "on", where)
            if on not in BACKENDS:
                raise MarkerError(f"{where}: the backend is one of {BACKENDS}, not {on!r}")
            missing = [f for f in FIELDS if f not in kwargs]
            if missing:
                raise MarkerError(f"{where}: differs(...) lacks {', '.join(missing)}")
            texts = {f: _text(kwargs[f], f, where) for f in FIELDS}
            if "section" in kwargs:
                section = _text(kwargs["section"], "section", where)
            elif default_section:
                section = default_section
            else:
                raise MarkerError(f"{where}: give section= or a module-level DIFFERENCES_SECTION")
            found.append(Difference(section, on, test=f"{rel}::{name}", where=where, **texts))
    return found


def collect(tests: Path = TESTS) -> list[Difference]:
    """Every marker under tests/, by file path and then source order."""
    found = []
    for path in sorted(tests.rglob("test_*.py")):
        if "node_modules" not in path.parts:
            found += differences_in(path, tests)
    return found


def ray_release(pyproject: Path = PYPROJECT) -> str:
    """The release the `ray` extra pins (``ray[...]==X.Y.Z``)."""
    m = re.search(
        r"""^ray\s*=\s*\[\s*["']ray(?:\[[^\]]*\])?==([0-9][^"']*)["']""",
        pyproject.read_text(),
        re.M,
    )
    if not m:
        raise MarkerError(f"{pyproject}: the `ray` extra must pin one release (ray[...]==X.Y.Z)")
    return m.group(1)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_tables(differences: list[Difference], release: str) -> str:
    sections: dict[str, list[Difference]] = {}
    for diff in differences:
        sections.setdefault(diff.section, []).append(diff)
    parts = []
    for section, rows in sections.items():
        lines = [
            f"## {section}",
            "",
            f"| What | Ray {release} | rayground | Why | Test |",
            "|---|---|---|---|---|",
        ]
        for d in rows:
            cells = (d.what, d.ray, d.rayground, d.why, f"`{d.test}`")
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) if parts else "No differences are declared."


def render(template: str, differences: list[Difference], release: str) -> str:
    if template.count(PLACEHOLDER) != 1:
        raise MarkerError(f"{TEMPLATE.name} must hold {PLACEHOLDER} once, on a line of its own")
    body = template.replace("{{release}}", release)
    return body.replace(PLACEHOLDER, render_tables(differences, release)).rstrip("\n") + "\n"


def generate() -> str:
    return render(TEMPLATE.read_text(), collect(), ray_release())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the doc is stale")
    args = parser.parse_args(argv)
    try:
        text = generate()
    except MarkerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rel = os.path.relpath(DOC, ROOT)
    if args.check:
        if DOC.exists() and DOC.read_text() == text:
            return 0
        print(f"{rel} is stale: run `python scripts/ray_compat_doc.py`", file=sys.stderr)
        return 1
    DOC.write_text(text)
    print(f"wrote {rel}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
