"""Rate-limited log lines, per key (a peer): a hostile or broken peer cannot flood a log.

A malformed 16 MiB frame once produced sixteen million log lines (1.35 GB, the head deaf for a
minute). Now each peer gets `burst` lines per `window` seconds; the lines past that are counted,
and the count is logged in one line when that peer's next window opens.
"""

from __future__ import annotations

import time


class LineLimiter:
    def __init__(self, burst: int = 20, window: float = 10.0, keys_max: int = 4096) -> None:
        self.burst = burst
        self.window = window
        self.keys_max = keys_max
        self._seen: dict[str, list] = {}  # key -> [window start, lines in it]

    def lines(self, key: str, text: str, now: float | None = None) -> list[str]:
        """The lines to log now for `text` from `key`: [text], [], or a note of how many lines
        were held back before it."""
        now = time.monotonic() if now is None else now
        seen = self._seen.get(key)
        out = []
        if seen is None or now - seen[0] >= self.window:
            if seen is not None and seen[1] > self.burst:
                out.append(f"({seen[1] - self.burst} more lines from {key} were not logged)")
            if seen is None and len(self._seen) >= self.keys_max:
                # Bounded memory: forget the oldest key (dicts keep insertion order).
                del self._seen[next(iter(self._seen))]
            seen = self._seen[key] = [now, 0]
        seen[1] += 1
        if seen[1] <= self.burst:
            out.append(text)
        elif seen[1] == self.burst + 1:
            out.append(f"(more lines from {key} in the next {self.window:g} s are not logged)")
        return out
