"""Progress for every long loop: rich bars on a terminal, plain periodic lines in a log or CI.

``Tracker(mode="bar")`` draws rich progress bars; ``mode="lines"`` prints one plain line per
loop every ``every_seconds`` or each 10% (and when it ends), to stderr, so a build or a method
run is never silent where no terminal is attached; ``mode="off"`` prints nothing. A loop shorter
than ``quiet_seconds`` prints no line at all: a log of sub-second phases says nothing a reader needs.
"""

from __future__ import annotations

import sys
import time
from contextlib import AbstractContextManager
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")

MODES = ("bar", "lines", "off")


def _advance(item) -> int:
    """How far one yielded item moves the count: a batch (list) by its length, anything else by one;
    a job tuple ``(..., batch)`` by its last member's length."""
    if isinstance(item, tuple) and item and isinstance(item[-1], (list, tuple)):
        return len(item[-1])
    return len(item) if isinstance(item, list) else 1


class Tracker(AbstractContextManager):
    def __init__(self, enabled: bool = True, *, mode: str | None = None, every_seconds: float = 10.0,
                 quiet_seconds: float = 2.0,
                 write: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic):
        self.mode = mode or ("bar" if enabled else "off")
        if self.mode not in MODES:
            raise ValueError(f"progress mode must be one of {MODES}")
        self.every_seconds = every_seconds
        self.quiet_seconds = quiet_seconds
        self._write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self._clock = clock
        self._progress = None

    def __enter__(self):
        if self.mode == "bar":
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TimeElapsedColumn(),
                                      TimeRemainingColumn(), transient=True)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None
        return False

    def track(self, items: Iterable[T], total: int, description: str) -> Iterator[T]:
        """Yield items, advancing by each batch's length (``_advance``) or by one."""
        if self._progress is not None:
            yield from self._track_bar(items, total, description)
        elif self.mode == "lines":
            yield from self._track_lines(items, total, description)
        else:
            yield from items

    def _track_bar(self, items, total, description):
        task = self._progress.add_task(description, total=total)
        try:
            for item in items:
                yield item
                self._progress.advance(task, _advance(item))
        finally:
            self._progress.remove_task(task)

    def _track_lines(self, items, total, description):
        start = last = self._clock()
        done, last_tenth = 0, 0
        for item in items:
            yield item
            done += _advance(item)
            now = self._clock()
            tenth = int(10 * done / total) if total else 10
            if done < total and now - start >= self.quiet_seconds and (now - last >= self.every_seconds
                                                                        or tenth > last_tenth):
                self._write(_line(description, done, total, now - start))
                last, last_tenth = now, tenth
        elapsed = self._clock() - start
        if total and elapsed >= self.quiet_seconds:
            self._write(_line(description, done, total, elapsed))

    def log(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message)
        elif self.mode == "lines":
            self._write(message)


def _line(description: str, done: int, total: int, elapsed: float) -> str:
    line = f"{description}: {done}/{total} ({100 * done / total:.0f}%), {elapsed:.0f} s"
    if 0 < done < total:
        line += f", about {elapsed * (total - done) / done:.0f} s left"
    return line


NULL_TRACKER = Tracker(mode="off")
