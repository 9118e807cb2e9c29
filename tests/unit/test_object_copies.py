"""The head's record of which nodes hold a copy of an object (object_transfer.py pulls them):
where to read it, and what survives when a node is lost."""

from __future__ import annotations

from rayground._core.object_directory import ObjectDirectory


def _directory(tmp_path) -> ObjectDirectory:
    directory = ObjectDirectory(
        str(tmp_path / "shm"), str(tmp_path / "spill"), 1 << 30, lambda *a: None, lambda *a: None
    )
    directory.local_node_id = "head-node"
    return directory


def _sealed_on(directory: ObjectDirectory, oid: str, node: str) -> None:
    directory.expect(oid, "driver", None)
    directory.seal(oid, ("s", oid, 100), [], node=node)


def test_copies_are_listed_after_the_original_and_are_per_object(tmp_path) -> None:
    directory = _directory(tmp_path)
    _sealed_on(directory, "a", "n1")
    _sealed_on(directory, "b", "n1")
    directory.add_copy("a", "n3")
    directory.add_copy("a", "n2")
    directory.add_copy("a", "n1")  # the original's node is not a copy
    assert directory.locations("a") == ["n1", "n2", "n3"]
    assert directory.locations("b") == ["n1"]  # copies of one object are not another's


def test_a_lost_node_leaves_a_surviving_copy_as_the_original(tmp_path) -> None:
    directory = _directory(tmp_path)
    _sealed_on(directory, "a", "n1")
    _sealed_on(directory, "b", "n1")
    directory.add_copy("a", "n2")
    assert directory.node_lost("n1") == ["b"]  # b had no other copy
    assert directory.locations("a") == ["n2"]
    assert directory.node_lost("n2") == ["a"]


def test_a_reset_object_forgets_its_copies(tmp_path) -> None:
    directory = _directory(tmp_path)
    _sealed_on(directory, "a", "n1")
    directory.add_copy("a", "n2")
    directory.reset("a")
    directory.seal("a", ("s", "a", 100), [], node="n3")
    assert directory.locations("a") == ["n3"]
