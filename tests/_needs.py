"""What a test needs that this machine may lack: one place decides whether it skips or fails.

Locally a test whose browser, extra, tool or privilege is missing is skipped, saying what is
missing and how to get it. Under CI (``CI`` set, and not to ``0``/``false``) the same test
*fails*: scripts/setup.sh installs everything the suite uses there, so something missing means
the environment broke, and a skip would hide that a whole file never ran. ::

    from _needs import missing, need_module, needs

    joblib = need_module("joblib", "joblib is not installed: the `joblib` extra")

    @needs(None if shutil.which("node") else "node is not installed")
    def test_...(): ...

    if not proxy_found:
        missing("configurable-http-proxy is not installed (npm install -g ...)")

A platform the code does not run on is not a missing install: `platform_skip` and
`on_platform_only` skip there even under CI (an arm64 CI runner has no x86-64 copy loop).

tests/test_needs.py checks that every skip in tests/ goes through this module.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import NoReturn

import pytest

CI_OFF = ("", "0", "false", "no")


def under_ci() -> bool:
    """Whether this run is CI's: a missing requirement fails instead of skipping."""
    return os.environ.get("CI", "").strip().lower() not in CI_OFF


def missing(reason: str) -> NoReturn:
    """Skip the current test (or module, when called at import time) with `reason`; fail under
    CI, where the requirement is installed by scripts/setup.sh and its absence is a bug."""
    __tracebackhide__ = True
    if under_ci():
        pytest.fail(f"CI must run this test, but: {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def need_module(name: str, reason: str | None = None) -> ModuleType:
    """Import `name` and return it; when it cannot be imported, `missing(...)` with the reason
    and the import error (the error matters under CI: a broken install is not an absent one)."""
    __tracebackhide__ = True
    try:
        return importlib.import_module(name)
    except Exception as exc:  # a module that fails while importing is as unusable as an absent one
        error = f"{type(exc).__name__}: {exc}"
    missing(f"{reason or f'{name} is not installed'} ({error})")


def needs(reason: str | None) -> pytest.MarkDecorator:
    """A mark for a requirement checked at import time: `reason` says what is missing, or is None
    when nothing is. The root conftest applies it at setup (``missing(reason)``)."""
    return pytest.mark.needs(reason=reason)


def apply_needs_marks(item: pytest.Item) -> None:
    """Called by the root conftest before each test runs: act on its `needs` marks."""
    __tracebackhide__ = True
    for mark in item.iter_markers("needs"):
        reason = mark.kwargs.get("reason")
        if reason:
            missing(reason)


def platform_skip(reason: str) -> NoReturn:
    """Skip, even under CI: the test cannot run on this platform (not an install problem)."""
    __tracebackhide__ = True
    pytest.skip(f"not on this platform: {reason}", allow_module_level=True)


def not_applicable(reason: str) -> NoReturn:
    """Skip, even under CI: this case does not apply by design (e.g. a lesson that declares
    itself rayground-only has no real-Ray run), which is not an install problem."""
    __tracebackhide__ = True
    pytest.skip(f"does not apply: {reason}", allow_module_level=True)


def on_platform_only(supported: bool, reason: str) -> pytest.MarkDecorator:
    """A skip mark for tests of platform-specific code, skipped (even under CI) where
    `supported` is false."""
    return pytest.mark.skipif(not supported, reason=f"not on this platform: {reason}")
