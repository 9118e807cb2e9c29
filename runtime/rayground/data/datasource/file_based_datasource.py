"""`FileShuffleConfig`: the readers' `shuffle=` with a seed (Ray's, same module path)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class FileShuffleConfig:
    """Shuffle the order files are read in. seed None: a new random order each execution;
    a seed with reseed_after_execution=False: the same order every time; with True (the default):
    a different, reproducible order per execution."""

    seed: int | None = None
    reseed_after_execution: bool = True

    def __post_init__(self) -> None:
        if self.seed is not None and not isinstance(self.seed, int):
            raise ValueError("Seed must be an integer or None.")

    def get_seed(self, execution_idx: int = 0) -> int | None:
        if self.seed is None:
            return None
        if self.reseed_after_execution:
            return hash((self.seed, execution_idx)) % (2**32)
        return self.seed
