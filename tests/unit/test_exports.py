"""The public surface is exactly what rayground/__init__.py lists, with Ray's names."""

from __future__ import annotations

import rayground

RAY_CORE_NAMES = {
    "init",
    "shutdown",
    "is_initialized",
    "remote",
    "get",
    "put",
    "wait",
    "kill",
    "cancel",
    "get_actor",
    "method",
    "cluster_resources",
    "available_resources",
    "nodes",
    "get_runtime_context",
    "get_gpu_ids",
    "ObjectRef",
    "ObjectRefGenerator",
    "exceptions",
    "util",
    "actor",
}


def test_all_lists_ray_core_names_and_they_exist():
    assert set(rayground.__all__) >= RAY_CORE_NAMES
    for name in rayground.__all__:
        assert hasattr(rayground, name), name


def test_no_private_names_are_exported():
    assert not [n for n in rayground.__all__ if n.startswith("_") and n != "__version__"]


def test_exceptions_have_rays_hierarchy():
    ex = rayground.exceptions
    assert issubclass(ex.RayTaskError, ex.RayError)
    assert issubclass(ex.GetTimeoutError, ex.RayError)
    assert issubclass(ex.GetTimeoutError, TimeoutError)
    assert issubclass(ex.ActorDiedError, ex.RayActorError)
    for name in ("TaskCancelledError", "WorkerCrashedError", "ObjectLostError"):
        assert issubclass(getattr(ex, name), ex.RayError)


def test_task_error_is_also_the_users_exception_class():
    err = rayground.exceptions.RayTaskError(
        "f", "Traceback ...\nValueError: bad", ValueError("bad")
    )
    dual = err.as_instanceof_cause()
    assert isinstance(dual, ValueError)
    assert isinstance(dual, rayground.exceptions.RayTaskError)
    assert "ValueError: bad" in str(dual)


def test_state_api_names():
    from rayground.util import state

    for name in ("list_tasks", "list_actors", "list_objects", "list_nodes", "summarize_tasks"):
        assert callable(getattr(state, name))


def test_exit_actor_lives_in_rayground_actor():
    assert callable(rayground.actor.exit_actor)


def test_object_lost_error_keeps_its_fields_across_pickling():
    import pickle

    from rayground.exceptions import ObjectLostError

    err = ObjectLostError("abc123", "Object abc123 was stored on node n1, which died.")
    back = pickle.loads(pickle.dumps(err))
    assert back.object_ref_hex == "abc123"
    assert str(back) == "Object abc123 was stored on node n1, which died."
