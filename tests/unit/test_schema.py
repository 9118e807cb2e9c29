"""One declared schema: the head validates against it, docs/protocol.md is rendered from it, and
every message kind and request the code knows is in it (sans-IO tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rayground._core import head_requests, protocol, schema
from rayground._core.direct_calls import ACTOR_AT
from rayground._core.log_limit import LineLimiter

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_the_protocol_document_is_rendered_from_the_schema():
    text = DOC.read_text()
    assert schema.render_into(text) == text, (
        "docs/protocol.md and runtime/rayground/_core/schema.py disagree; regenerate with "
        "`python -m rayground._core.schema --write docs/protocol.md`"
    )


def test_every_message_kind_is_declared():
    kinds = {
        value for name, value in vars(protocol).items() if name.isupper() and isinstance(value, str)
    }
    declared = {m.kind for m in schema.TO_HEAD + schema.FROM_HEAD}
    assert kinds <= declared, kinds - declared
    assert ACTOR_AT in declared


def test_every_request_the_head_answers_is_declared():
    assert set(head_requests._HANDLERS) == set(schema.REQUESTS)


_NODE = {
    "role": "node",
    "client_id": "n1",
    "node_id": "abc",
    "node_ip": "10.0.0.2",
    "shm_dir": "/dev/shm/x",
    "resources": {"CPU": 4, "memory": 8e9},
}


@pytest.mark.parametrize(
    "info",
    [
        {"role": "driver", "client_id": "c1", "pid": 5, "sys_path": ["/a"], "namespace": None},
        {"role": "worker", "client_id": "c2", "worker_id": "w-1"},
        {"role": "observer", "client_id": "c3", "name": "cli"},
        _NODE,
        {**_NODE, "some_future_field": object},  # unknown keys pass (compatibility rule)
    ],
)
def test_well_formed_infos_pass(info):
    assert schema.info_problem(info) is None


@pytest.mark.parametrize(
    ("info", "says"),
    [
        ({**_NODE, "resources": {"CPU": float("nan")}}, "'resources'"),
        ({**_NODE, "resources": {"CPU": float("inf")}}, "'resources'"),
        ({**_NODE, "resources": {"CPU": 1e300}}, "'resources'"),
        ({**_NODE, "resources": {"CPU": -1}}, "'resources'"),
        ({**_NODE, "resources": {str(i): 1 for i in range(2000)}}, "'resources'"),
        ({k: v for k, v in _NODE.items() if k != "node_id"}, "lacks 'node_id'"),
        ({"role": "worker", "client_id": "c"}, "lacks 'worker_id'"),
        ({"role": "admin", "client_id": "c"}, "'role'"),
        ({"role": "driver", "client_id": ""}, "'client_id'"),
        ({"role": "driver", "client_id": "c", "env_vars": {"A": 1}}, "'env_vars'"),
        (["role", "driver"], "must be a dict"),
    ],
)
def test_malformed_infos_are_named(info, says):
    problem = schema.info_problem(info)
    assert problem is not None and says in problem, problem


def test_requests_are_checked_with_their_messages():
    assert schema.message_problem(("request", 1, "list_tasks", {"limit": 5})) is None
    assert "'limit'" in schema.message_problem(("request", 1, "list_tasks", {"limit": "5"}))
    assert "does not know" in schema.message_problem(("request", 1, "nope", {}))


def test_log_lines_are_limited_per_key_and_the_rest_counted():
    limit = LineLimiter(burst=3, window=10.0)
    out = [limit.lines("peer-a", f"line {i}", now=0.0) for i in range(10)]
    assert [x for x in out if x] == [
        ["line 0"],
        ["line 1"],
        ["line 2"],
        ["(more lines from peer-a in the next 10 s are not logged)"],
    ]
    assert limit.lines("peer-b", "other", now=1.0) == ["other"]  # per key
    assert limit.lines("peer-a", "later", now=10.0) == [
        "(7 more lines from peer-a were not logged)",
        "later",
    ]


def test_the_limiter_forgets_keys_beyond_its_bound():
    limit = LineLimiter(burst=1, window=10.0, keys_max=4)
    for i in range(100):
        limit.lines(f"peer-{i}", "x", now=0.0)
    assert len(limit._seen) <= 4
