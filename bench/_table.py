"""The result table the benchmarks print: measurement, value, baseline, ratio, target, and whether it holds."""

from __future__ import annotations

from collections.abc import Sequence

Row = tuple[str, str, str, str, str, bool]


def print_table(rows: Sequence[Row]) -> int:
    """Print ``rows`` aligned under a header; return 0 when every row with a target meets it, else 1."""
    header = ("measurement", "value", "baseline", "ratio", "target", "")
    widths = [max(len(str(row[i])) for row in [*rows, header]) for i in range(5)]
    print("  ".join(str(cell).ljust(width) for cell, width in zip(header, widths, strict=False)))
    for row in rows:
        cells = [str(cell).ljust(width) for cell, width in zip(row[:5], widths, strict=True)]
        mark = ("ok" if row[5] else "MISSED") if row[4] else ""
        print("  ".join(cells), mark)
    return 0 if all(row[5] for row in rows) else 1
