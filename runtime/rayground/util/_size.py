"""How big a value is, cheaply, to decide whether it goes to the object store once."""

from __future__ import annotations

import sys
from typing import Any

# A value at least this big that several tasks or batches read goes to the object store once and
# travels as an ObjectRef, instead of being copied with each of them.
SHARE_ONCE_BYTES = 100_000


def approx_nbytes(value: Any) -> int:
    """A NumPy array's (or pandas Series') data size, views included; otherwise what
    sys.getsizeof says (which counts a DataFrame's data). Containers count only themselves."""
    nbytes = getattr(value, "nbytes", None)
    if isinstance(nbytes, int):
        return nbytes
    try:
        return sys.getsizeof(value)
    except TypeError:  # an object whose __sizeof__ is broken: treat it as small
        return 0
