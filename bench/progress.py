"""Rich progress bars for every long loop, silenced in tests and pipes on request."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


class Tracker(AbstractContextManager):
    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self._progress = None

    def __enter__(self):
        if self.enabled:
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
        """Yield items, advancing a bar by each item's length (for batches) or by one."""
        if self._progress is None:
            yield from items
            return
        task = self._progress.add_task(description, total=total)
        try:
            for item in items:
                yield item
                self._progress.advance(task, len(item) if isinstance(item, (list, tuple)) else 1)
        finally:
            self._progress.remove_task(task)

    def log(self, message: str) -> None:
        if self._progress is not None:
            self._progress.console.print(message)


NULL_TRACKER = Tracker(enabled=False)
