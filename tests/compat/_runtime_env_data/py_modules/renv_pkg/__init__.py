"""A package shipped with runtime_env py_modules (tests/compat/test_runtime_env.py)."""

VALUE = 7
