"""How the commands print: byte sizes, tables, who holds a reference."""

from __future__ import annotations

from typing import Any


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    cells = [[("" if r.get(c) is None else str(r.get(c))) for c in columns] for r in rows]
    widths = [
        max([len(c)] + [min(len(row[i]), 40) for row in cells]) for i, c in enumerate(columns)
    ]
    print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        print("  ".join(v[:40].ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def who(role: str | None, pid: int | None, via: str | None = None) -> str:
    text = role or "?"
    if pid is not None:
        text += f" pid {pid}"
    if via:
        text += f" {via}"
    return text
