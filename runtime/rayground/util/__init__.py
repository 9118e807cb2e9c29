"""Utilities with Ray's names: `rayground.util.state` is the state API."""

from . import state

__all__ = ["state"]
