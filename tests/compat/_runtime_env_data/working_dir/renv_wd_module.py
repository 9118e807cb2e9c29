"""Imported by tasks from the shipped working_dir (tests/compat/test_runtime_env.py)."""

ANSWER = 41
