"""Root test configuration: leak checks for processes and shared memory, and helpers.

Leak checks (autouse; RAYGROUND_LEAK_CHECK=0 turns them off while debugging,
RAYGROUND_LEAK_WAIT_S changes the 10 s grace period):

* per module: processes born while the module ran (and not spawned by a process
  that already existed when it started) and new ``/dev/shm/rayground*`` entries
  must be gone once the module's fixtures are torn down;
* per session: the same against the state at session start, after every other
  fixture has been torn down.

"Processes" means live descendants of the pytest process, plus any process whose
environment carries this session's ``RAYGROUND_TEST_SESSION`` token (that catches
workers orphaned to init or daemonized). multiprocessing's resource tracker and
forkserver are ignored. Leftovers get up to 10 s to go away; then they are
SIGKILLed / removed and the check fails with a list of what leaked.

A session-scoped fixture that deliberately keeps a cluster alive across modules
should call ``allow_lingering()`` right after starting it, so the per-module check
does not blame the module that happened to start it (the session check still
requires it to be gone at the end).

Helpers: the ``wait_until`` fixture (see ``_procs.wait_until``) and ``_procs``'s
process-tree functions. Requirements (a browser, an extra, root): ``_needs``, whose ``needs``
marks are applied here before a test's fixtures start; under CI a missing one fails the test.
Expected differences from real Ray: ``@pytest.mark.differs`` and the ``differs`` fixture
(``_differences``), held here to being observed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

try:  # works whether or not tests/ becomes a package
    from . import _differences, _kept_ray, _needs, _procs
except ImportError:
    import _differences
    import _kept_ray
    import _needs
    import _procs

TOKEN_VAR = "RAYGROUND_TEST_SESSION"
SESSION_TOKEN = uuid.uuid4().hex
# Set before any test runs so every process spawned (with an inherited env) carries it.
os.environ[TOKEN_VAR] = SESSION_TOKEN

# Sessions of this test run live under their own root, so the shared-memory check below looks
# only at segments of clusters this run started, never at another run's (or a developer's).
# Removed at the end of a run that passed; a failed run's stays, with its nodes' logs.
_OWN_SESSION_ROOT = "RAYGROUND_TMPDIR" not in os.environ
if _OWN_SESSION_ROOT:
    os.environ["RAYGROUND_TMPDIR"] = tempfile.mkdtemp(prefix="rayground-tests-")
SESSION_ROOT = os.environ["RAYGROUND_TMPDIR"]

# Real Ray (the compatibility half) runs with token auth off, for every process of the run
# alike: Ray turns it on by itself once ~/.ray/auth_token exists, and a run that switched it
# per test had one module's GCS demand a token its in-process client, configured earlier in
# the same process, never sent. The tests talk to loopback only.
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

LEAK_WAIT_S = float(os.environ.get("RAYGROUND_LEAK_WAIT_S", "10"))
POLL_S = 0.1
SHM_PREFIX = "rayground"


def _own_shm() -> set[str]:
    """/dev/shm entries of sessions started under this run's SESSION_ROOT."""
    try:
        sessions = set(os.listdir(SESSION_ROOT))
    except OSError:
        sessions = set()
    return {n for n in _procs.shm_entries(SHM_PREFIX) if n[len("rayground-") :] in sessions}


def _enabled() -> bool:
    return os.environ.get("RAYGROUND_LEAK_CHECK", "1") not in ("0", "false", "no", "")


@dataclass
class _Snapshot:
    procs: set[int]
    parents: dict[int, int]
    shm: set[str]


@dataclass
class _Allowed:
    pids: set[int] = field(default_factory=set)
    shm: set[str] = field(default_factory=set)
    # exempt too, but making no /dev/shm/rayground* entries, so the shm check stays on
    shm_free_pids: set[int] = field(default_factory=set)


_ALLOWED = _Allowed()


def _snapshot() -> _Snapshot:
    parents = _procs.parent_map()
    procs = _procs.descendants(os.getpid(), parents)
    procs |= _procs.processes_with_env(TOKEN_VAR, SESSION_TOKEN)
    procs = {p for p in procs if not _procs.is_stdlib_helper(p)}
    return _Snapshot(procs, parents, _own_shm())


def _leaks(
    base: _Snapshot, owners: set[int], ignore_shm: set[str], check_shm: bool = True
) -> tuple[set[int], set[str]]:
    """Processes and shm entries that are new since ``base`` and not owned by ``owners``.

    A new process is not counted if it or one of its ancestors is in ``owners`` (exempted, or
    spawned by a process that is not this scope's responsibility).
    """
    now = _snapshot()
    procs = set()
    for pid in now.procs - base.procs:
        if owners.isdisjoint([pid, *_procs.ancestors(pid, now.parents)]):
            procs.add(pid)
    shm = (now.shm - base.shm - ignore_shm) if check_shm else set()
    return procs, shm


def _check(
    where: str,
    base: _Snapshot,
    owners: set[int],
    ignore_shm: set[str] | None = None,
    check_shm: Callable[[], bool] = lambda: True,
) -> None:
    """Wait for leftovers to go away; otherwise kill/remove them and raise."""
    __tracebackhide__ = True
    ignore_shm = ignore_shm or set()
    deadline = time.monotonic() + LEAK_WAIT_S
    while True:
        procs, shm = _leaks(base, owners, ignore_shm, check_shm())
        if not procs and not shm:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(POLL_S)

    lines = [f"{where} leaked resources still present after {LEAK_WAIT_S:g}s:"]
    if procs:
        lines.append(f"{len(procs)} process(es) (now SIGKILLed):")
        lines.append(_procs.describe(procs))
    if shm:
        lines.append(f"{len(shm)} /dev/shm entr(y/ies) (now removed):")
        lines.extend(f"  /dev/shm/{name}" for name in sorted(shm))
    _procs.kill_all(procs)
    _procs.remove_shm(shm)
    # Give the kernel a moment so the next check starts from a clean slate.
    end = time.monotonic() + 2.0
    while time.monotonic() < end and any(_procs.process_alive(p) for p in procs):
        time.sleep(0.02)
    raise AssertionError("\n".join(lines))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``needs(reason=...)`` skips (fails under CI) before its fixtures start; a
    ``differs`` declaration that is incomplete or applies to no backend fails."""
    _needs.apply_needs_marks(item)
    _differences.check(item)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    _differences.prepare(items)


_DIFFERS = pytest.StashKey[_differences.Differs]()


@pytest.fixture
def differs(request: pytest.FixtureRequest) -> _differences.Differs:
    """True on the backend the test's ``@pytest.mark.differs`` names: branch on it to assert
    what each backend does (see tests/_differences.py)."""
    flag = _differences.Differs(request.node)
    request.node.stash[_DIFFERS] = flag
    return flag


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """A test that passed without showing the difference it declares fails."""
    outcome = yield
    report = outcome.get_result()
    flag = item.stash.get(_DIFFERS, None)
    if call.when == "call" and report.passed and flag is not None:
        why = flag.unobserved()
        if why:
            report.outcome = "failed"
            report.longrepr = f"{item.nodeid} {why}"


@pytest.fixture(scope="session", autouse=True)
def _leak_check_session() -> Iterator[None]:
    """Fail the run if processes or /dev/shm entries outlive the session's fixtures."""
    __tracebackhide__ = True
    if not _enabled():
        yield
        _kept_ray.shutdown_kept()
        return
    base = _snapshot()
    yield
    _kept_ray.shutdown_kept()  # the real Ray cluster kept across modules, if one is
    _check("test session", base, owners=base.procs)


@pytest.fixture(scope="module", autouse=True)
def _leak_check_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """Attribute leaks to the module whose teardown left them behind."""
    __tracebackhide__ = True
    if Path(str(request.path)).parent.name not in _kept_ray.USED_IN:
        # this module may start real Ray its own way, which a connected cluster would refuse
        _kept_ray.shutdown_kept()
    if not _enabled():
        yield
        return
    base = _snapshot()
    yield

    def shm_checkable() -> bool:
        # Shared memory can't be attributed while a deliberately long-lived cluster runs.
        return not any(_procs.process_alive(p) for p in _ALLOWED.pids)

    _check(
        f"module {request.node.nodeid}",
        base,
        owners=base.procs | _ALLOWED.pids | _ALLOWED.shm_free_pids,
        ignore_shm=_ALLOWED.shm,
        check_shm=shm_checkable,
    )


@pytest.fixture(scope="session")
def allow_lingering() -> Callable[[Iterable[int] | None], set[int]]:
    """Return ``allow(pids=None)``: exempt processes from the per-module leak check.

    ``allow()`` with no argument exempts every tracked process alive now (and,
    implicitly, anything they spawn later) plus the current /dev/shm entries. ``shm=False``
    says the processes make no /dev/shm entries, so the shm check stays on while they live. Use it
    in session-scoped fixtures that keep a cluster up across modules.
    """

    def allow(pids: Iterable[int] | None = None, *, shm: bool = True) -> set[int]:
        chosen = _snapshot().procs if pids is None else set(pids)
        if not shm:  # e.g. real Ray's processes (tests/_kept_ray.py)
            _ALLOWED.shm_free_pids |= chosen
            return chosen
        _ALLOWED.pids |= chosen
        if pids is None:
            _ALLOWED.shm |= _own_shm()
        return chosen

    return allow


@pytest.fixture(scope="session")
def wait_until() -> Callable[..., object]:
    """``wait_until(predicate, timeout=10.0, interval=0.02, message="...")``.

    Polls until ``predicate()`` is truthy and returns its value; raises
    AssertionError(message) after ``timeout`` seconds.
    """
    return _procs.wait_until


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every fixture is gone: the run's session root goes too, unless a test failed."""
    if _OWN_SESSION_ROOT and exitstatus == 0:
        shutil.rmtree(SESSION_ROOT, ignore_errors=True)
