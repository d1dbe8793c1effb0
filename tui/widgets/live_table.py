"""A DataTable that is updated in place by row key, with filtering, sorting and a row cap.

Its columns are the core views' (``debugtool.views``): a refresh hands over every row's item,
each column takes its raw value of it, and only rows whose values changed are formatted again
and only the cells that changed are updated, so a table of thousands of mostly idle processes
costs little per refresh. Rows beyond ``max_rows`` (after filter and sort) are not shown.

A table given ``keep`` (its columns' keys, most wanted first) fits its width: the columns that
fit, in that order, are shown and the rest wait for a wider terminal (a filter still finds
their text, a sort still uses them, a saved view still has them); ``shrink`` names columns
that may narrow to a given width first, and a column of no fixed width takes what is left.
Such a table never scrolls sideways. The sorted column's header carries ▲ or ▼.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.text import Text
from textual.binding import Binding
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from debugtool import output
from debugtool.output import printable
from debugtool.record import replace
from debugtool.views import Column

#: The width a column of no fixed width (the last, long one: COMMAND) is given room for.
AUTO_WIDTH = 30
MAX_WIDTH = 64  # the widest a shrinkable column grows on a wide terminal
ARROWS = {False: "▲", True: "▼"}  # ascending, descending (htop and k9s draw the same)


class Cell(Text):
    """A table cell: the text shown, plus the row it belongs to (so any order can be applied).

    The text goes through ``output.printable``: cells hold what containers named (commands,
    users, paths), and a ``Text`` is never read as markup.
    """

    def __init__(
        self, text: str, row_key: str, justify: Literal["left", "right"], style: str = ""
    ) -> None:
        super().__init__(
            printable(text), style=style, justify=justify, no_wrap=True, overflow="ellipsis"
        )
        self.row_key = row_key


def sort_value(value: Any) -> tuple[int, Any]:
    """Return a key that sorts unknown values last and never compares str with int."""
    if isinstance(value, tuple):  # (usage, limit) pairs sort by usage
        return sort_value(value[0] if value else None)
    if value is None or value == "":
        return (2, 0)
    if isinstance(value, (int, float)):
        return (0, value)
    return (1, str(value).lower())


class LiveTable(DataTable):
    """A row-cursor DataTable fed whole row sets and updated in place."""

    # vi's keys as well as the arrows (htop, k9s and less do the same).
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    @dataclass
    class Chosen(Message):
        """Enter (or a click) on a row: ``key`` is the row's key."""

        table: LiveTable
        key: str

    @dataclass
    class SortChanged(Message):
        """The sort column or direction changed (``s`` or a header click)."""

        table: LiveTable
        column: str
        reverse: bool

    def __init__(
        self,
        columns: Sequence[Column[Any]] = (),
        max_rows: int = 5000,
        id: str | None = None,
        classes: str | None = None,
        keep: Sequence[str] | None = None,
        shrink: Mapping[str, int] | None = None,
        styles: Mapping[str, Callable[[Any], str]] | None = None,
    ) -> None:
        super().__init__(cursor_type="row", id=id, classes=classes)
        self.max_rows = max_rows
        self._columns: list[Column[Any]] = list(columns)  # every column: values, sort, filter
        self._keep = list(keep) if keep is not None else None
        self._shrink = dict(shrink or {})
        self._styles = dict(styles or {})
        # The columns on screen, each with its index in ``_columns`` and the width it got.
        self._shown: list[tuple[int, Column[Any]]] = []
        self._raw: dict[str, tuple[Any, ...]] = {}
        self._shown_raw: dict[str, tuple[Any, ...]] = {}
        self._search: dict[str, str] = {}
        self._order: dict[str, int] | None = None
        self.filter_text = ""
        self.sort_column: str | None = None
        self.sort_reverse = False
        self.total = 0  # rows after filtering, before the cap

    def on_mount(self) -> None:
        self._shown = self._fit(self.size.width)
        self._add_columns()

    def _add_columns(self) -> None:
        for _, column in self._shown:
            self.add_column(self._label(column), key=column.key, width=column.width)

    def _label(self, column: Column[Any]) -> Text:
        arrow = f" {ARROWS[self.sort_reverse]}" if column.key == self.sort_column else ""
        return Text(column.header + arrow, justify=column.justify, no_wrap=True)

    # --- fitting the width ------------------------------------------------------------------
    def _fit(self, width: int) -> list[tuple[int, Column[Any]]]:
        """Return the columns that fit ``width`` cells, each with the width it is given.

        Columns are taken in ``keep`` order (then the others, left to right) at their full
        width, the first that does not fit whole at its least width, until one does not fit
        at all; what is left over widens the narrowed ones and the one of no fixed width.
        A table with no ``keep``, or not laid out yet, shows every column as its view sizes it.
        """
        indexed = list(enumerate(self._columns))
        if self._keep is None or width <= 0:
            return indexed
        room = width - self.styles.scrollbar_size_vertical  # the scrollbar may come and go
        pad = 2 * self.cell_padding
        rank = {key: n for n, key in enumerate(self._keep)}
        by_rank = sorted(indexed, key=lambda ic: (rank.get(ic[1].key, len(rank)), ic[0]))

        def natural(column: Column[Any]) -> int:
            # Room for the header, and the sort arrow on the sorted one (never cut off).
            arrow = 2 if column.key == self.sort_column else 0
            return max(column.width or AUTO_WIDTH, len(column.header) + arrow)

        def least(column: Column[Any]) -> int:
            return max(min(natural(column), self._shrink.get(column.key, natural(column))), 3)

        widths: dict[int, int] = {}
        used = 0
        for index, column in by_rank:
            # Each at its full width while there is room, so a later column never narrows
            # an earlier one; the one that does not fit whole may come narrowed, then no more.
            if used + natural(column) + pad <= room:
                widths[index] = natural(column)
            elif used + least(column) + pad <= room or not widths:
                widths[index] = least(column)
            else:
                break
            used += widths[index] + pad
        spare = room - used
        for index, column in by_rank:
            if index in widths and spare > 0:
                grow = min(spare, natural(column) - widths[index])
                widths[index] += grow
                spare -= grow
        # What is still left goes to the column of no fixed width (COMMAND, OPTIONS: the long
        # last one, cut with '…' rather than scrolling the table sideways), or when there is
        # none to the columns that may shrink (names, images, paths), shared evenly.
        autos = [i for i, c in by_rank if i in widths and c.width is None]
        flexible = autos or [i for i, c in by_rank if i in widths and c.key in self._shrink]
        limit = 10_000 if autos else MAX_WIDTH
        while spare > 0 and flexible:
            share = max(1, spare // len(flexible))
            for index in flexible:
                grow = min(share, spare, limit - widths[index])
                widths[index] += grow
                spare -= grow
            flexible = [i for i in flexible if widths[i] < limit]
        return [(i, replace(c, width=widths[i])) for i, c in indexed if i in widths]

    def on_resize(self, event: Resize) -> None:
        self._refit()

    def _refit(self, force: bool = False) -> None:
        """Choose the columns again for the current width; redraw the table if they changed."""
        shown = self._fit(self.size.width)
        if not force and [(i, c.width) for i, c in shown] == [(i, c.width) for i, c in self._shown]:
            return
        cursor_key = self.selected_key
        self._shown = shown
        self.clear(columns=True)
        self._shown_raw.clear()
        self._add_columns()
        self._apply(force_sort=True)
        if cursor_key is not None:
            self.select_key(cursor_key)

    @property
    def headers(self) -> dict[str, str]:
        """Return every column's header by its key (those a narrow screen hides too)."""
        return {column.key: column.header for column in self._columns}

    @property
    def shown_keys(self) -> list[str]:
        """Return the keys of the columns on screen, left to right."""
        return [column.key for _, column in self._shown]

    # --- methods the screens call ---------------------------------------------------------------
    def set_columns(self, columns: Sequence[Column[Any]]) -> None:
        """Replace the columns (for example when pods appear, or a column's width follows
        what it holds); call ``update_rows`` next."""
        if [(c.key, c.width) for c in columns] == [(c.key, c.width) for c in self._columns]:
            return
        self._columns = list(columns)
        if self.sort_column not in {c.key for c in columns}:
            self.sort_column = None
        # The old rows do not fit the new columns: the caller hands over new ones next.
        self._raw.clear()
        self._search.clear()
        self._refit(force=True)

    def show(self, items: Mapping[str, Any], order: Sequence[str] | None = None) -> None:
        """Show ``items`` (row key -> item of the columns' view), updating the table in place.

        ``order``, when given, fixes the row order (the process tree) instead of the sort column.
        """
        columns = self._columns
        self.update_rows(
            {key: [c.value(item) for c in columns] for key, item in items.items()}, order
        )

    def update_rows(
        self, rows: Mapping[str, Sequence[Any]], order: Sequence[str] | None = None
    ) -> None:
        """Show ``rows`` (row key -> raw value per column), updating the table in place.

        ``order``, when given, fixes the row order (the process tree) instead of the sort column.
        """
        previous = self._raw
        self._raw = {key: tuple(values) for key, values in rows.items()}
        for key, values in self._raw.items():
            if previous.get(key) != values or key not in self._search:
                self._search[key] = " ".join(
                    printable(c.format(v)) for c, v in zip(self._columns, values, strict=False)
                ).lower()  # what is shown is what a filter finds
        for key in [k for k in self._search if k not in self._raw]:
            del self._search[key]
        # From a fixed order (the tree) back to the sort column: the rows must be sorted anew.
        resort = self._order is not None and order is None
        self._order = {key: i for i, key in enumerate(order)} if order is not None else None
        self._apply(force_sort=resort)

    def set_filter(self, text: str) -> None:
        """Show only rows whose text contains ``text`` (case-insensitive)."""
        self.filter_text = text.strip().lower()
        self._apply()

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by ``column``; sorting again by the same column flips the direction."""
        if reverse is None:
            reverse = (
                not self.sort_reverse if column == self.sort_column else _numeric(self, column)
            )
        self.sort_column, self.sort_reverse = column, reverse
        self._refit()  # the sorted column's header needs room for its arrow
        self._relabel()
        self._apply(force_sort=True)
        self.post_message(self.SortChanged(self, column, reverse))

    def _relabel(self) -> None:
        """Put the arrow on the sorted column's header (and take it off the others)."""
        changed = False
        for _, column in self._shown:
            label = self._label(column)
            shown = self.columns.get(ColumnKey(column.key))
            if shown is not None and shown.label.plain != label.plain:
                shown.label = label
                changed = True
        if changed:
            clear = getattr(self, "_clear_caches", None)  # the header row is cached (Textual 8)
            if clear is not None:
                clear()
            self.refresh()

    def cycle_sort(self) -> None:
        """Sort by the next column on screen (``s``), numbers largest first."""
        keys = self.shown_keys
        if not keys:
            return
        index = keys.index(self.sort_column) + 1 if self.sort_column in keys else 0
        column = keys[index % len(keys)]
        self.sort_by(column, reverse=_numeric(self, column))

    @property
    def selected_key(self) -> str | None:
        """Return the key of the row under the cursor, or None for an empty table."""
        if not self.row_count:
            return None
        try:
            return self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        except Exception:  # the cursor can point past the end for a moment after a removal
            return None

    def select_key(self, key: str) -> None:
        """Move the cursor to the row with ``key``, when it is shown."""
        if key in self._shown_raw:
            self.move_cursor(row=self.get_row_index(key), scroll=True)

    def as_text(self) -> str:
        """Return the shown rows as aligned plain text, as ``debugtool ps`` prints tables: with
        every column, those a narrow screen leaves out too."""
        stream = io.StringIO()
        ordered = sorted(self._shown_raw, key=self.get_row_index)
        rows = [
            [c.format(v) for c, v in zip(self._columns, self._raw[k], strict=False)]
            for k in ordered
        ]
        output.table(
            [c.header for c in self._columns],
            rows,
            stream=stream,
            fit=False,
            justify=[c.justify for c in self._columns],
        )
        return stream.getvalue()

    def raw(self, key: str) -> tuple[Any, ...] | None:
        return self._raw.get(key)

    # --- the in-place update ----------------------------------------------------------------
    def _sort_key(self, key: str) -> Any:
        if self._order is not None:
            return self._order.get(key, len(self._order))
        if self.sort_column is None:
            return 0
        index = [c.key for c in self._columns].index(self.sort_column)
        value = sort_value(self._raw[key][index])
        if value[0] == 2 and self.sort_reverse:
            return (-1, 0)  # unknown values stay last when sorting largest first
        return value

    def _apply(self, force_sort: bool = False) -> None:
        text = self.filter_text
        wanted = [k for k in self._raw if not text or text in self._search[k]]
        self.total = len(wanted)
        reverse = self.sort_reverse and self._order is None
        if len(wanted) > self.max_rows:
            wanted = sorted(wanted, key=self._sort_key, reverse=reverse)[: self.max_rows]
        wanted_set = set(wanted)
        cursor_key = self.selected_key
        gone = [k for k in self._shown_raw if k not in wanted_set]
        # DataTable.remove_row renumbers every row: many removals are cheaper as a refill.
        if len(gone) > 50 and len(gone) > len(self._shown_raw) // 4:
            self.clear()
            self._shown_raw.clear()
        else:
            for key in gone:
                self.remove_row(key)
                del self._shown_raw[key]
        reorder = force_sort or self._order is not None
        sort_index = (
            [c.key for c in self._columns].index(self.sort_column)
            if self.sort_column in {c.key for c in self._columns}
            else None
        )
        changed: dict[str, list[tuple[Column[Any], Cell]]] = {}
        for key in wanted:
            values = self._raw[key]
            old = self._shown_raw.get(key)
            if old is None:
                self.add_row(*self._cells(key, values), key=key)
                reorder = True
            elif old != values:
                reorder = reorder or (
                    sort_index is not None and old[sort_index] != values[sort_index]
                )
                for i, column in self._shown:
                    before, after = old[i], values[i]
                    if before == after:
                        continue
                    text = column.format(after)
                    # Values that look the same (memory moving by a few bytes, 0.0% staying
                    # 0.0%) are not redrawn.
                    if text != column.format(before):
                        changed.setdefault(key, []).append((column, self._cell(column, after, key)))
            self._shown_raw[key] = values
        if changed and not self._patch_cells(changed):
            for key, cells in changed.items():
                for column, cell in cells:
                    self.update_cell(key, column.key, cell, update_width=column.width is None)
        if reorder and self.row_count and self._shown:
            # DataTable.sort redraws too, so sort only when the order really changes.
            wanted_order = sorted(self._shown_raw, key=self._sort_key, reverse=reverse)
            if wanted_order != [row.key.value for row in self.ordered_rows]:
                self.sort(
                    self._shown[0][1].key,
                    key=lambda cell: self._sort_key(cell.row_key),
                    reverse=reverse,
                )
        if cursor_key is not None and cursor_key in self._shown_raw:
            index = self.get_row_index(cursor_key)
            if index != self.cursor_row:
                self.move_cursor(row=index, animate=False, scroll=False)

    def _patch_cells(self, changed: dict[str, list[tuple[Column[Any], Cell]]]) -> bool:
        """Replace changed cells and redraw only their rows; return False when it cannot.

        ``DataTable.update_cell`` bumps a counter that is part of every render cache key, so
        one changed CPU figure redraws every visible cell (about 4% of a core for a screenful
        of containers each second). Here only the changed rows' cache entries are dropped.
        This leans on DataTable internals (Textual 8): if they are not there, or a column
        must grow, it returns False and the caller uses ``update_cell``.
        """
        if any(column.width is None for cells in changed.values() for column, _ in cells):
            return False
        try:
            data = self._data
            row_caches: tuple[Any, ...] = (self._cell_render_cache, self._row_render_cache)
            renderables: Any = self._row_renderable_cache
            lines = self._line_cache
        except AttributeError:
            return False
        indexes = {key: self.get_row_index(key) for key in changed}
        for key, cells in changed.items():
            row = data[RowKey(key)]
            for column, cell in cells:
                row[ColumnKey(column.key)] = cell
        keys = {RowKey(key) for key in changed}
        for cache in row_caches:
            for cache_key in [k for k in cache.keys() if k[0] in keys]:
                cache.discard(cache_key)
        rows = set(indexes.values())
        for index_key in [k for k in renderables.keys() if k[1] in rows]:
            renderables.discard(index_key)
        lines.clear()  # assembled lines; rebuilt from the row caches, which mostly still hit
        for index in rows:
            self.refresh_row(index)
        return True

    def _cells(self, key: str, values: Sequence[Any]) -> list[Cell]:
        return [self._cell(column, values[i], key) for i, column in self._shown]

    def _cell(self, column: Column[Any], value: Any, key: str) -> Cell:
        style = self._styles.get(column.key)
        return Cell(column.format(value), key, column.justify, style(value) if style else "")

    # --- events -----------------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Chosen(self, event.row_key.value))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = event.column_key.value
        column = next((c for _, c in self._shown if c.key == key), None)
        if column is not None:
            self.sort_by(column.key)


def _numeric(table: LiveTable, column: str) -> bool:
    """Return whether a column holds numbers (sorted largest first by default)."""
    index = [c.key for c in table._columns].index(column)
    for values in table._raw.values():
        value = values[index]
        if isinstance(value, tuple):
            value = value[0] if value else None
        if value is not None and value != "":
            return isinstance(value, (int, float))
    return False
