"""Tables on stdout: drawn with rich on a terminal, as plain aligned columns anywhere else (a pipe, a file).

rich is imported only to draw on a terminal. Either way a cell is never cut short (addresses and times are
never shown with an ellipsis): on a terminal narrower than the table, the table is drawn at its own width.
"""

from __future__ import annotations

import sys
import unicodedata
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["Table", "show"]


@dataclass
class Table:
    """A titled table of text cells; cells are shown as they are (never read as markup)."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)

    def add_row(self, *cells: str) -> None:
        """Append a row with one cell per column."""
        if len(cells) != len(self.columns):
            raise ValueError(f"a row of {len(self.columns)} cells expected, got {len(cells)}")
        self.rows.append(tuple(" ".join(cell.splitlines()) for cell in cells))

    def widths(self) -> list[int]:
        """Each column's width in terminal cells: its widest cell or its heading."""
        return [max(map(_width, column)) for column in zip(self.columns, *self.rows, strict=True)]


def show(table: Table, stream: TextIO | None = None) -> None:
    """Print ``table`` on ``stream`` (default: stdout): drawn with rich on a terminal, plain otherwise."""
    stream = stream if stream is not None else sys.stdout
    if stream.isatty():
        _draw(table, stream)
    else:
        stream.write(plain(table))


def plain(table: Table) -> str:
    """The table as text: the title, the headings, a rule, and one line per row, columns two spaces apart."""
    widths = table.widths()

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(cell + " " * (width - _width(cell)) for cell, width in zip(cells, widths, strict=True))

    rule = tuple("-" * width for width in widths)
    lines = [table.title, line(table.columns), line(rule), *(line(row) for row in table.rows)]
    return "".join(text.rstrip() + "\n" for text in lines)


def _draw(table: Table, stream: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable
    from rich.text import Text

    widths = table.widths()
    drawn = RichTable(title=Text(table.title))
    for heading, width in zip(table.columns, widths, strict=True):
        drawn.add_column(Text(heading), width=width, no_wrap=True)  # fixed: rich need not measure each cell
    for row in table.rows:
        drawn.add_row(*(Text(cell) for cell in row))
    needed = sum(widths) + 3 * len(widths) + 1  # one space either side of each cell, and the borders
    console = Console(file=stream, highlight=False)
    if console.width < needed:
        console = Console(file=stream, width=needed, highlight=False, force_terminal=True)
    console.print(drawn)


def _width(text: str) -> int:
    """The cells ``text`` takes on a terminal: two for a wide character, none for a combining one."""
    if text.isascii():
        return len(text)
    return sum(
        0 if unicodedata.combining(char) else 2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text
    )
