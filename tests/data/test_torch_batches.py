"""iter_torch_batches' checks that need no PyTorch (CI does not install it): collate_fn with
dtypes fails as on Ray, and a missing PyTorch fails with what to install or use instead."""

from __future__ import annotations

import sys

import pytest


def test_collate_fn_and_dtypes_together_fail(rg):
    with pytest.raises(ValueError, match="collate_fn cannot be used with dtypes"):
        next(iter(rg.data.range(4).iter_torch_batches(collate_fn=lambda b: b, dtypes=object)))


def test_without_pytorch_the_error_says_what_to_do(rg, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # as if PyTorch were not installed
    with pytest.raises(ImportError, match=r"pip install torch.*iter_batches\(\)"):
        next(iter(rg.data.range(4).iterator().iter_torch_batches(batch_size=2)))
