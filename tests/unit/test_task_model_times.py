"""The notebook's task model takes a direct actor call's true start from its end event
(events.py): the head recorded RUNNING when it heard of the call, after the call began."""

from rayground.jupyter import timeline
from rayground.jupyter.model import TaskModel


def test_end_event_with_started_replaces_the_running_time():
    model = TaskModel()
    name = {"name": "Log.add", "actor_id": "a1"}
    model.on_events(
        [
            (1, 10.000, "task", "t1", "PENDING_ARGS_AVAIL", name),
            (2, 10.004, "task", "t1", "RUNNING", {"pid": 7, "worker_id": "w1"}),
            (3, 10.003, "task", "t1", "FINISHED", {"started": 10.001}),
            (4, 10.000, "task", "t2", "PENDING_ARGS_AVAIL", name),
            (5, 10.004, "task", "t2", "RUNNING", {"pid": 7, "worker_id": "w1"}),
            (6, 10.004, "task", "t2", "FINISHED", None),  # a head-path call: times as sent
        ],
        lost=0,
    )
    first, second = model.rows["t1"], model.rows["t2"]
    assert first["start_time_ms"] == 10001 and first["end_time_ms"] == 10003
    assert dict(first["events"])["RUNNING"] == 10.001
    assert second["start_time_ms"] == 10004
    spans = timeline.spans([first, second], now=11.0)[7]
    assert [(s, e) for _, s, e, _ in spans] == [(10.001, 10.003), (10.004, 10.004)]
