from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from kernel import Kernel


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    """One kernel per module with rayground loaded and a 2-CPU cluster started."""
    k = Kernel(cwd=str(tmp_path_factory.mktemp("nb")))
    try:
        k.run("%load_ext rayground")
        k.run("%ray_init --num-cpus 2 --object-store-memory 128MiB")
        k.run("import time\nimport numpy as np\nimport rayground as ray")
        yield k
    finally:
        k.shutdown()
