"""Internals of rayground. Users never import from here; the public API is `rayground`."""
