"""Error types the CLI turns into one clear line instead of a traceback."""

from __future__ import annotations


class HwrBenchError(Exception):
    """Base class for errors caused by the user's input or environment."""


class DatasetError(HwrBenchError):
    """A dataset file is missing, malformed or inconsistent.

    The message always names the file, and the row and field where known, so a
    user can go straight to the fault.
    """

    def __init__(self, path, message: str, *, field: str | None = None,
                 row: int | None = None, key: str | None = None):
        self.path = str(path)
        self.field = field
        self.row = row
        self.key = key
        where = self.path
        if row is not None:
            where += f": row {row}"
            if key is not None:
                where += f" (key {key!r})"
        if field is not None:
            where += f": field {field!r}"
        super().__init__(f"{where}: {message}")


class ResultsBusyError(HwrBenchError):
    """Another run holds the results folder."""


class UnknownMethodError(HwrBenchError):
    pass


class UnknownProtocolError(HwrBenchError):
    pass


class MethodOutputError(Exception):
    """A method returned something the harness cannot use (wrong shape, NaN, ...).

    Not a HwrBenchError: it is the method's fault, recorded as a failed result.
    """
