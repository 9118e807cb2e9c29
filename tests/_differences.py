"""Expected differences from real Ray, declared on the test that observes them.

A test that runs on both backends (its ``ray`` or ``backend`` fixture is parametrised over
``rayground`` and ``ray``) and sees them behave differently says so with a marker::

    @pytest.mark.differs(
        "ray",  # the backend whose branch below is the odd one
        what="An item's error in `imap`/`imap_unordered`",
        ray="yielded as a `PoolTaskError` value",
        rayground="raised from `next()`, as multiprocessing",
        why="Ray's own docs and multiprocessing raise; a value silently stands in for a failure.",
        section="`rayground.util.multiprocessing.Pool`",  # or the module's DIFFERENCES_SECTION
    )
    def test_imap_error(ray, pool, fn, differs):
        ...
        if differs:  # true on the backend the marker names
            assert isinstance(next(results).underlying, ValueError)
        else:
            with pytest.raises(ValueError, match="bad item 3"):
                next(results)

The difference must really be observed, so a difference that gets fixed fails until its marker
goes:

* with the ``differs`` fixture, each branch asserts what its backend does; the named backend's
  branch fails once it behaves like the other, and a test that never reads ``differs`` on the
  named backend fails (a declaration no assertion backs);
* without the fixture, the test asserts the other backend's behaviour and runs on the named
  backend as a strict xfail that must fail with ``raises`` (default ``AssertionError``); when it
  passes there, the run fails saying the difference is gone.

docs/ray-compatibility.md is generated from these markers (scripts/ray_compat_doc.py reads them
from the source, without importing the tests); tests/test_compat_doc.py fails when it is stale.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

BACKENDS = ("rayground", "ray")
# The parametrised fixtures that carry the backend's name (tests/compat, data, tune: `ray`;
# tests/serve/test_compat.py: `backend`).
BACKEND_PARAMS = ("ray", "backend")
TEXT_FIELDS = ("what", "ray", "rayground", "why")
MARKER = "differs"
REMOVE = "remove its @pytest.mark.differs and run `python scripts/ray_compat_doc.py`"


@dataclass(frozen=True)
class Declared:
    """One marker, as the test declares it."""

    on: str
    what: str
    ray: str
    rayground: str
    why: str
    section: str
    raises: type[BaseException] = AssertionError


def backend_of(item: pytest.Item) -> str | None:
    """The backend this test item runs on, or None if it is not parametrised over backends."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    for name in BACKEND_PARAMS:
        value = callspec.params.get(name)
        if value in BACKENDS:
            return value
    return None


def declared(item: pytest.Item) -> Declared | None:
    """The item's `differs` marker, read and checked; raises ValueError saying what is wrong."""
    mark = item.get_closest_marker(MARKER)
    if mark is None:
        return None
    if len(mark.args) > 1 or (mark.args and "on" in mark.kwargs):
        raise ValueError("give the backend once: @pytest.mark.differs('ray' or 'rayground', ...)")
    on = mark.args[0] if mark.args else mark.kwargs.get("on")
    if on not in BACKENDS:
        raise ValueError(f"the first argument names the odd backend, one of {BACKENDS}; got {on!r}")
    known = {"on", "section", "raises", *TEXT_FIELDS}
    unknown = sorted(set(mark.kwargs) - known)
    if unknown:
        raise ValueError(f"unknown arguments {unknown}; known: {sorted(known)}")
    section = mark.kwargs.get("section") or getattr(item.module, "DIFFERENCES_SECTION", None)
    texts = {name: mark.kwargs.get(name) for name in TEXT_FIELDS}
    lacking = [name for name, text in texts.items() if not (isinstance(text, str) and text.strip())]
    if not section:
        lacking.append("section (or a module-level DIFFERENCES_SECTION)")
    if lacking:
        raise ValueError(f"say {', '.join(lacking)}: the generated doc shows each of them")
    raises = mark.kwargs.get("raises", AssertionError)
    if not (isinstance(raises, type) and issubclass(raises, BaseException)):
        raise ValueError(f"raises= takes an exception type; got {raises!r}")
    return Declared(on=on, section=section, raises=raises, **texts)


def prepare(items: list[pytest.Item]) -> None:
    """At collection: a marked test without the `differs` fixture becomes a strict xfail on the
    backend the marker names. Bad declarations are reported when the test runs (`check`)."""
    for item in items:
        try:
            decl = declared(item)
        except ValueError:
            continue
        if decl is None or "differs" in getattr(item, "fixturenames", ()):
            continue
        if backend_of(item) == decl.on:
            item.add_marker(
                pytest.mark.xfail(
                    strict=True,
                    raises=decl.raises,
                    reason=(
                        f"declared difference on {decl.on}: {decl.what}. If this passes there, "
                        f"the difference is gone: {REMOVE}"
                    ),
                )
            )


def check(item: pytest.Item) -> None:
    """Before a marked test runs: its declaration must be complete and apply to this test."""
    __tracebackhide__ = True
    try:
        decl = declared(item)
    except ValueError as exc:
        pytest.fail(f"@pytest.mark.differs on {item.nodeid}: {exc}", pytrace=False)
    if decl is not None and backend_of(item) is None:
        pytest.fail(
            f"@pytest.mark.differs on {item.nodeid}: the test is not parametrised over the "
            f"backends (a `ray` or `backend` fixture with params {BACKENDS}), so no backend "
            "can show the difference",
            pytrace=False,
        )


class Differs:
    """The `differs` fixture's value: true on the backend the test's marker names.

    Reading it is recorded: on that backend, a passing test that never read it has not shown
    the difference it declares, and fails."""

    def __init__(self, item: pytest.Item) -> None:
        decl = declared(item)
        if decl is None:
            raise ValueError(
                f"{item.nodeid} uses the `differs` fixture without @pytest.mark.differs(...): "
                "declare the difference it branches on"
            )
        self.on = decl.on
        self.backend = backend_of(item)
        self.read = False

    def __bool__(self) -> bool:
        self.read = True
        return self.backend == self.on

    def unobserved(self) -> str | None:
        """Why the test has not shown its difference, or None if it has."""
        if self.backend == self.on and not self.read:
            return (
                f"declares a difference on {self.on} but never branched on `differs` there: "
                f"assert what {self.on} does under `if differs:`, or {REMOVE}"
            )
        return None
