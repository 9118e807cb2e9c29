"""A single-file module shipped with runtime_env py_modules (tests/compat/test_runtime_env.py)."""

VALUE = 8
