"""Custom serializers (Ray's `ray.util.register_serializer`): for a class that cannot be pickled
(it holds a lock, a socket, a handle to a C library), say how to turn an instance into
something that can, and back.

    ray.util.register_serializer(Client, serializer=lambda c: c.url, deserializer=Client)

The registration is for this process and for exactly that class (not its subclasses), as in
Ray; the deserializer travels with each serialized instance, so the worker that receives one
needs no registration of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._core import serialization

__all__ = ["deregister_serializer", "register_serializer"]


def register_serializer(
    cls: type, *, serializer: Callable[[Any], Any], deserializer: Callable[[Any], Any]
) -> None:
    """Serialize instances of `cls` as `serializer(obj)` and rebuild them with
    `deserializer(data)`; the deserializer must itself be serializable."""
    if not isinstance(cls, type):
        raise TypeError(f"register_serializer takes a class first, got {cls!r}")
    for name, fn in (("serializer", serializer), ("deserializer", deserializer)):
        if not callable(fn):
            raise TypeError(f"{name} must be a function of one argument, got {fn!r}")
    serialization.register_serializer(cls, serializer, deserializer)


def deregister_serializer(cls: type) -> None:
    """Forget the serializer of `cls`; nothing happens if it has none."""
    serialization.custom_reducers.pop(cls, None)
