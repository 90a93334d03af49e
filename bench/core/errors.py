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


def did_you_mean(name: str, known) -> str:
    """" (did you mean 'x'?)" for the closest known name, or "" (a typo gets a suggestion)."""
    import difflib

    close = difflib.get_close_matches(name, [k for k in known if k], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class UnknownMethodError(HwrBenchError):
    pass


class UnknownProtocolError(HwrBenchError):
    pass


class ProtocolNotApplicable(HwrBenchError):
    """A protocol cannot be built from this dataset (no test_id images, one render per word, ...).

    The runner records the protocol *not applicable* with this reason and runs the others.
    """


class MethodOutputError(Exception):
    """A method returned something the harness cannot use (wrong shape, NaN, ...).

    Not a HwrBenchError: it is the method's fault, recorded as a failed result.
    """
