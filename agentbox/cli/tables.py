"""Tables for the terminal: chat text made safe, and keys in the first column never cut.

The first column holds what the user copies into the next command (a session key for
`sessions show`, a model id for `--model`). Rich shrinks every column of a table that is too
wide for the terminal, keys included, so a table that cannot fit with whole words falls back
to blocks: the key on a line of its own, the other columns as `name value` pairs below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from agentbox.cli.termsafe import terminal_safe

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

Row = Sequence[str]


def cell(value: object) -> Text:
    """Plain text for a table cell: control characters replaced, no Rich markup interpreted."""
    from rich.text import Text

    return Text(terminal_safe(str(value), single_line=True))


def keyed_table(headers: Row, rows: Sequence[Row], *, numeric: Sequence[int] = (), bold_last: bool = False) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for index, header in enumerate(headers):
        table.add_column(header, no_wrap=index == 0, justify="right" if index in numeric else "left")
    for number, row in enumerate(rows):
        table.add_row(*map(cell, row), style="bold" if bold_last and number == len(rows) - 1 else None)
    return table


def print_keyed(
    headers: Row,
    rows: Sequence[Row],
    *,
    numeric: Sequence[int] = (),
    bold_last: bool = False,
    console: Console | None = None,
) -> None:
    """Print `rows` as a table when it fits the terminal with whole words, else as one block per row."""
    from rich.console import Console
    from rich.measure import Measurement

    console = console or Console(highlight=False)
    table = keyed_table(headers, rows, numeric=numeric, bold_last=bold_last)
    needed = Measurement.get(console, console.options.update_width(1_000_000), table).minimum
    if needed <= console.width:
        console.print(table)
        return
    for row in rows:
        console.print(cell(row[0]), soft_wrap=True)
        pairs = [f"{header} {value}" for header, value in zip(headers[1:], row[1:], strict=True)]
        for line in join_wrapped(pairs, " · ", console.width - 2):
            console.print(cell("  " + line), soft_wrap=True)


def join_wrapped(items: Sequence[str], separator: str, width: int) -> list[str]:
    """`items` joined by `separator` into lines of at most `width`, never breaking inside an item."""
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + len(separator) + len(item) <= width:
            lines[-1] += separator + item
        else:
            lines.append(item)
    return lines
