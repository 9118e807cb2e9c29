"""`@serve.ingress(fastapi_app)`: a deployment class whose HTTP requests are served by a FastAPI
app whose routes are the class's methods (`self` is the replica's instance), as in Ray Serve."""

from __future__ import annotations

import copyreg
from collections.abc import Callable
from typing import Any

__all__ = ["ingress"]


def ingress(app: Any) -> Callable[[type], type]:
    """Serve a FastAPI (or any ASGI) app from the decorated deployment class."""
    if not callable(app):
        raise TypeError(f"serve.ingress expects a FastAPI or ASGI app, got {type(app).__name__}.")
    _make_state_picklable()

    def decorate(cls: type) -> type:
        if not isinstance(cls, type):
            raise TypeError("@serve.ingress decorates a class (the deployment).")

        def asgi_for(instance: Any) -> Any:
            built = instance.__dict__.get("_serve_built_asgi_app")
            if built is None:
                built = instance.__dict__["_serve_built_asgi_app"] = _bind(app, cls, instance)
            return built

        cls._serve_asgi_app = staticmethod(asgi_for)  # type: ignore[attr-defined]
        return cls

    return decorate


def _bind(app: Any, cls: type, instance: Any) -> Any:
    """A copy of `app` whose routes defined in the class call the instance's bound methods."""
    try:
        from fastapi import FastAPI
        from fastapi.routing import APIRoute
    except ImportError:
        return app  # a plain ASGI app: nothing to bind
    if not isinstance(app, FastAPI):
        return app
    own = {f for f in vars(cls).values() if callable(f)}
    bound_app = FastAPI(title=app.title, version=app.version)
    bound_app.exception_handlers.update(app.exception_handlers)
    for route in app.routes:
        if isinstance(route, APIRoute) and route.endpoint in own:
            bound_app.add_api_route(
                route.path,
                getattr(instance, route.endpoint.__name__),
                methods=list(route.methods or ()),
                response_model=route.response_model,
                status_code=route.status_code,
                response_class=route.response_class,
                name=route.name,
                include_in_schema=route.include_in_schema,
            )
        else:
            bound_app.router.routes.append(route)
    return bound_app


def _make_state_picklable() -> None:
    """The app travels to the replicas pickled with the class; starlette's `State` (on every
    app) cannot be unpickled as it is (its __getattr__ recurses before __dict__ is set), so it
    is rebuilt from its contents."""
    try:
        from starlette.datastructures import State
    except ImportError:
        return
    copyreg.pickle(State, _reduce_state)


def _reduce_state(state: Any) -> tuple[Any, ...]:
    return (_rebuild_state, (dict(state._state),))


def _rebuild_state(values: dict[str, Any]) -> Any:
    from starlette.datastructures import State

    return State(values)
