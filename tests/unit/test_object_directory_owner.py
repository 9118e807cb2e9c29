"""ObjectDirectory.owner_died / owns_puts: what a dead worker put and others still hold reads
as an error from then on; its task results and other clients' puts are untouched."""

from __future__ import annotations

from rayground._core.object_directory import ObjectDirectory


def _directory(tmp_path, pushed: list | None = None) -> ObjectDirectory:
    def notify(client: str, oid: str, desc: tuple) -> None:
        if pushed is not None:
            pushed.append((client, oid, desc))

    return ObjectDirectory(str(tmp_path), str(tmp_path / "spill"), 1 << 20, notify, lambda *a: None)


def test_a_dead_workers_puts_read_as_the_error_and_the_rest_is_untouched(tmp_path):
    pushed: list = []
    objects = _directory(tmp_path, pushed)
    objects.seal("put.held", ("i", b"held"), [], holder="worker")  # put by the worker
    objects.incref("driver", ["put.held"])  # ... and the driver got its ref
    objects.seal("put.private", ("i", b"private"), [], holder="worker")  # nobody else holds it
    objects.expect("task.ret", "worker", "task")  # a result of a task the worker submitted
    objects.seal("task.ret", ("i", b"ret"), [], holder="worker")
    objects.incref("driver", ["task.ret"])
    objects.seal("driver.put", ("i", b"mine"), [], holder="driver")
    assert objects.owns_puts("worker") and objects.owns_puts("driver")

    objects.drop_client("worker")
    assert objects.get("put.private") is None  # freed: nobody could read it anyway
    died = objects.owner_died("worker", lambda oid: ("e", oid.encode()))
    assert died == ["put.held"]
    # Each holder is told at once: it may hold the inline value it read before.
    assert pushed == [("driver", "put.held", ("e", b"put.held"))]
    assert objects.get("put.held").desc == ("e", b"put.held")
    assert objects.get("task.ret").desc == ("i", b"ret")
    assert objects.get("driver.put").desc == ("i", b"mine")
    assert not objects.owns_puts("worker")
    assert objects.owner_died("worker", lambda oid: ("e", b"")) == []  # once
