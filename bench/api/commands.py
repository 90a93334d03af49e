"""What every ``bench`` command shares, core or plugin: option definitions, the dataset it runs on,
input checks and the outcome reporter. A plugin's commands (``hwr_bench.commands``) import these,
so ``bench train`` and ``bench run`` take ``--dataset`` or ``--bootstrap`` the same way.

Running methods is the engine's, a floor above this one: a command that needs it (``bench
ablate``) asks ``harness(ctx)``, which the ``bench`` CLI hands to every command through its click
context (``ctx.obj``). Imported by commands only (it pulls in typer): methods import ``bench.api``.

Exit codes (the README's table): 0 done; 1 at least one method/protocol pair failed or a
verification disagreed; 2 bad input (unknown method, protocol or option, a bad value, an unreadable
dataset or result file, a busy results folder), reported in one line before any work; 3 nothing ran
(every requested method was unavailable here or every protocol inapplicable; with ``--strict``, any
method unavailable); 130 interrupted (the same command resumes).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Iterable, Mapping, Optional, Protocol, Sequence

import typer

from bench.api.options import OptionError
from bench.api.registry import DEFAULT, METHODS
from bench.core.cache import DEFAULT_SIZE, EMBEDDED_TIERS, default_cache_dir, default_dataset_path
from bench.core.errors import HwrBenchError
from bench.core.progress import Tracker
from bench.core.provenance import check_committed_code
from bench.data.assets import fetch_all
from bench.data.builder import build, stale_tier
from bench.data.store import load_dataset
from bench.data.toy import build_toy
from bench.evaluation.protocols import default_protocols, get_protocol
from bench.evaluation.summary import DEFAULT_BOOTSTRAP
from bench.store.records import SkipReason, Status

EXIT_FAILED, EXIT_BAD_INPUT, EXIT_NOTHING_RAN, EXIT_INTERRUPTED = 1, 2, 3, 130   # 0: done

__all__ = ["AllowDirtyOpt", "BootstrapOpt", "DatasetOpt", "DatasetSize", "LimitOpt", "OfflineOpt", "OptionOpt",
           "ProtocolsOpt", "QuietOpt", "ReplaceOpt", "ResultsDirOpt", "DEFAULT_BOOTSTRAP", "Harness", "harness",
           "console", "split", "tracker", "protocol_names", "method_names", "method_options", "build_dataset",
           "load_or_build_dataset", "tier_results_dir", "load_dataset", "outcome_reporter", "summary_line",
           "nothing_ran", "finish", "fail",
           "check_committed_code", "default_cache_dir", "default_dataset_path"]


class Harness(Protocol):
    """What a command may ask of the floors above the API."""

    def run(self, dataset, *, methods: Sequence[str], protocols: Sequence[str], results_dir: Path,
            limit: int | None, n_boot: int, method_options: Mapping[str, Mapping[str, str]],
            allow_dirty: bool, report: Callable) -> list:
        """Run ``methods`` x ``protocols`` on ``dataset`` into ``results_dir`` (as ``bench run``,
        with the default output cache); ``report`` sees each outcome; returns the outcomes."""


def harness(ctx: typer.Context) -> Harness:
    """The harness the ``bench`` CLI hands its commands (a command takes ``ctx: typer.Context``)."""
    found = ctx.find_root().obj
    if found is None:
        raise HwrBenchError(f"`{ctx.info_name}` runs methods only under the `bench` command, which hands it the "
                            "harness")
    return found


class DatasetSize(str, Enum):
    SMALL = "small"            # the default benchmark
    PAPER = "paper"            # Table 1's counts
    TINY = "tiny"
    TRAIN_AUG = "train-aug"    # extra training renders
    PAPER_TRAIN = "paper-train"  # the paper recipe's pre-training set at the paper's scale
    HAND = "hand"              # the hand tier: generative writers, calibrated difficulty
    TOY = "toy"                # a few dozen samples for tests, no assets


# -- shared option definitions ------------------------------------------------------------------
DatasetOpt = Annotated[Optional[Path], typer.Option(
    "--dataset", "-d", help="Dataset folder, or `hand` for the hand tier; default: the embedded benchmark "
    "(small), built when absent.")]
ResultsDirOpt = Annotated[Path, typer.Option("--results-dir", help="The results folder.")]
BootstrapOpt = Annotated[int, typer.Option("--bootstrap", min=0, help="Bootstrap resamples for the 95% intervals (0: none).")]
OptionOpt = Annotated[list[str], typer.Option("--option", "-o", help="Method option METHOD.KEY=VALUE (repeatable).")]
ProtocolsOpt = Annotated[Optional[str], typer.Option(
    "--protocols", "-p", help="Comma-separated protocols (see `bench protocols`; default: all).")]
LimitOpt = Annotated[Optional[int], typer.Option(
    "--limit", min=1, help="At most N queries per language or direction (seeded sample).")]
OfflineOpt = Annotated[bool, typer.Option("--offline", metavar="", help="Never download: methods whose weights are "
                                          "not here report themselves unavailable, with the fix (as "
                                          "HF_HUB_OFFLINE=1 does).")]
AllowDirtyOpt = Annotated[bool, typer.Option("--allow-dirty", metavar="", help="Write into the repository's own "
                                             "results/ although the code has uncommitted changes (the results then "
                                             "record git.dirty and no commit reproduces them).")]
ReplaceOpt = Annotated[bool, typer.Option("--replace", metavar="", help="Replace an existing hwr-bench dataset at "
                                          "--out (a folder holding anything else is never touched).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", metavar="", help="No progress (bars on a terminal, lines "
                                                                        "otherwise).")]


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def split(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def tracker(quiet: bool) -> Tracker:
    """Bars on a terminal, plain periodic lines in a log or CI, nothing with --quiet."""
    return Tracker(mode="off" if quiet else "bar" if sys.stderr.isatty() else "lines")


# -- input checks (before any work) -------------------------------------------------------------
def protocol_names(value: str | None) -> list[str]:
    names = split(value) or list(default_protocols())
    for name in names:
        get_protocol(name)
    return names


def method_names(value: str | None) -> list[str]:
    return split(value) or list(METHODS.tagged(DEFAULT))


def parse_option_args(options: Iterable[str]) -> dict[str, dict[str, str]]:
    parsed: dict[str, dict[str, str]] = {}
    for opt in options:
        target, eq, value = opt.partition("=")
        method, dot, key = target.rpartition(".")
        if not eq or not dot or not method or not key:
            raise OptionError(f"--option {opt!r}: expected METHOD.KEY=VALUE")
        parsed.setdefault(method, {})[key] = value
    return parsed


def method_options(methods: list[str], options: Iterable[str]) -> dict[str, dict[str, str]]:
    """Each method's raw options, every name and option checked against its adapter."""
    parsed = parse_option_args(options)
    stray = sorted(set(parsed) - set(methods))
    if stray:
        raise OptionError(f"--option for {stray[0]!r}, which is not among the methods ({', '.join(methods)})")
    for name in methods:
        METHODS.check(name, parsed.get(name))
    return parsed


# -- the dataset ----------------------------------------------------------------------------------
def build_dataset(out: Path, size: DatasetSize, seed: int, workers: Optional[int], quiet: bool,
                  replace: bool = False) -> dict:
    out_console = console()
    if size is DatasetSize.TOY:
        return {"fingerprint": build_toy(out, seed=seed, replace=replace)}
    out_console.print("Fetching handwriting assets (fonts, stroke data) into the cache ...")
    fetch_all(default_cache_dir(), report=lambda line: None if quiet else out_console.print(line))
    out_console.print(f"Building the {size.value} benchmark at {out} ...")
    with tracker(quiet) as progress:
        summary = build(out, size=size.value, seed=seed, cache_root=default_cache_dir(), workers=workers,
                        tracker=progress, replace=replace)
    for note in summary["notes"]:
        out_console.print(f"[yellow]note:[/] {note}")
    return summary


def named_tier(dataset: Optional[Path]) -> str | None:
    """The embedded tier ``--dataset`` names (none: the default), or None for a dataset folder; a
    folder that exists under a tier's name is the user's folder."""
    if dataset is None:
        return DEFAULT_SIZE
    return str(dataset) if str(dataset) in EMBEDDED_TIERS and not dataset.exists() else None


def tier_results_dir(dataset: Optional[Path], results_dir: Path) -> Path:
    """Where a command reads and writes results: `--dataset hand` with a folder named `results`
    (the default, or a repository's named by its path) means results/hand, so a run on another
    tier never replaces the default tier's results of the same methods."""
    tier = named_tier(dataset)
    if tier not in (None, DEFAULT_SIZE) and Path(results_dir).name == "results":
        return Path(results_dir) / tier
    return results_dir


def load_or_build_dataset(dataset: Optional[Path], quiet: bool):
    """The dataset a command runs on: the folder named, an embedded tier named (``--dataset hand``),
    or the embedded benchmark; embedded ones are built on first use."""
    tier = named_tier(dataset)
    if tier is None:
        return load_dataset(dataset)
    # The default tier's place may be $HWR_BENCH_DATA, so it is asked for without a size.
    path = default_dataset_path() if dataset is None else default_dataset_path(tier)
    manifest = path / "manifest.json"
    stale = manifest.exists() and stale_tier(json.loads(manifest.read_text(encoding="utf-8")), tier)
    if stale:    # ours to replace: the embedded tier in the cache, written by an older generator
        console().print(f"{path}: built by an older generator; rebuilding the {tier} tier")
    if stale or not manifest.exists():
        build_dataset(path, DatasetSize(tier), 0, None, quiet)
    return load_dataset(path)


# -- outcomes -------------------------------------------------------------------------------------
_STYLES = {Status.OK: "green", Status.SKIPPED: "dim", Status.UNAVAILABLE: "yellow", Status.NOT_APPLICABLE: "dim",
           Status.FAILED: "red"}
_COLLAPSED = (Status.SKIPPED, Status.UNAVAILABLE)   # said once per method, not once per protocol


class OutcomeReporter:
    """A ``report`` callback for ``bench.engine.runner.run``: a line per method and protocol computed,
    failed or inapplicable; results reused and methods unavailable are said once per method
    (one line with its protocols), not once per protocol. Call ``flush()`` when the run ends."""

    def __init__(self, out_console=None):
        self.out = out_console or console()
        self._pending: list = []

    def __call__(self, o) -> None:
        if self._pending and (o.status not in _COLLAPSED or
                              (o.method, o.status, o.message) != _same(self._pending[0])):
            self.flush()
        if o.status in _COLLAPSED:
            self._pending.append(o)
        else:
            self._line(o.status, o.method, o.protocol, o.message)

    def flush(self) -> None:
        if self._pending:
            first, protocols = self._pending[0], [o.protocol for o in self._pending]
            self._line(first.status, first.method, ",".join(protocols) if len(protocols) <= 2
                       else f"{len(protocols)} protocols", first.message)
            self._pending = []

    def _line(self, status: str, method: str, protocol: str, message: str) -> None:
        from rich.markup import escape

        self.out.print(f"[{_STYLES.get(status, '')}]{status:>14}[/] {escape(method):<24} "
                       f"{escape(protocol):<6} {escape(message)}")


def _same(o) -> tuple:
    return o.method, o.status, o.message


def outcome_reporter(out_console=None) -> OutcomeReporter:
    return OutcomeReporter(out_console)


def summary_line(outcomes) -> str:
    """What a run computed and what it reused, in one line."""
    count = Counter(o.status for o in outcomes)
    kept = sum(1 for o in outcomes if o.status is Status.SKIPPED and o.skip is SkipReason.KEPT_FULL_RESULT)
    parts = [f"computed {count[Status.OK]} result(s)",
             f"reused {count[Status.SKIPPED] - kept} stored result(s) (up to date)"]
    if kept:
        parts.append(f"kept {kept} full result(s) a --limit run may not replace")
    unavailable = sorted({o.method for o in outcomes if o.status is Status.UNAVAILABLE})
    if count[Status.NOT_APPLICABLE]:
        parts.append(f"{count[Status.NOT_APPLICABLE]} not applicable")
    if unavailable:
        parts.append(f"{len(unavailable)} method(s) unavailable here ({', '.join(unavailable)})")
    if count[Status.FAILED]:
        parts.append(f"{count[Status.FAILED]} failed")
    return "This run " + ", ".join(parts) + "."


def nothing_ran(outcomes, strict: bool = False) -> bool:
    """No result computed or reused (every method unavailable, every protocol inapplicable), or,
    with ``strict``, any method unavailable: the run's exit code says so (3)."""
    statuses = {o.status for o in outcomes}
    if strict and Status.UNAVAILABLE in statuses:
        return True
    return not statuses & {Status.OK, Status.SKIPPED, Status.FAILED}


def finish(outcomes, verdicts=(), strict: bool = False) -> None:
    """The run's summary; exit 1 where any method/protocol pair failed or a verification disagreed,
    3 where nothing ran (see the module's exit codes)."""
    console().print(summary_line(outcomes))
    failed = [o for o in outcomes if o.status is Status.FAILED]
    if failed:
        console().print(f"[red]{len(failed)} method/protocol pair(s) failed (see the lines above).[/]")
    disagreed = [v.method for v in verdicts if v.failed]
    if disagreed:
        console().print(f"[red]verification failed for {', '.join(disagreed)} (see the lines above).[/]")
    if failed or disagreed:
        raise typer.Exit(EXIT_FAILED)
    if nothing_ran(outcomes, strict):
        what = ("a requested method was unavailable (--strict)"
                if strict and any(o.status is Status.UNAVAILABLE for o in outcomes)
                else "no method produced or reused a result")
        console(stderr=True).print(f"[yellow]nothing ran: {what} (exit {EXIT_NOTHING_RAN}).[/]")
        raise typer.Exit(EXIT_NOTHING_RAN)


def fail(message: str) -> None:
    raise HwrBenchError(message)
