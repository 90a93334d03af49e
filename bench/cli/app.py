"""The ``bench`` command. Heavy third-party libraries are imported where they are used, so
``bench --help`` stays fast.

Packages add commands through the ``hwr_bench.commands`` entry-point group: a hook
``register(app)`` that adds typer commands (the in-house model's ``train``, ``ablate``,
``curves`` and ``quantize`` come this way). Exit codes: ``bench.api.commands``.
"""

from __future__ import annotations

import sys
from enum import Enum
from functools import partial
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Optional

import typer

# Bad command lines raise click's UsageError; newer typer releases carry their own copy of click,
# so the class is taken from typer's public BadParameter rather than imported from either.
UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")

from bench.api.commands import (EXIT_BAD_INPUT, EXIT_INTERRUPTED, AllowDirtyOpt, BootstrapOpt, DatasetOpt,
                                DatasetSize, LimitOpt, ReplaceOpt, OfflineOpt, OptionOpt, ProtocolsOpt, QuietOpt,
                                ResultsDirOpt, build_dataset, console, fail, finish, load_or_build_dataset,
                                method_names, method_options, outcome_reporter, protocol_names, split,
                                tier_results_dir, tracker)
from bench.api.options import option_fields
from bench.api.registry import EFFICIENCY, METHODS, entry_point_load_error
from bench.api.retriever import go_offline
from bench.core.cache import default_cache_dir, default_dataset_path
from bench.core.errors import HwrBenchError
from bench.core.provenance import check_committed_code
from bench.data import importers
from bench.data.assets import fetch_all
from bench.data.lexicon_build import LEXICON_PATH, write_lexicon
from bench.data.schema import LANGUAGES
from bench.data.show import contact_sheet
from bench.data.store import load_dataset
from bench.efficiency.measure import measure_isolated
from bench.engine.families import embeddings, ops_for
from bench.engine.ray_engine import run_on_ray
from bench.engine.runner import Overwrite, RunConfig, run as run_all
from bench.engine.verify import verify
from bench.evaluation.protocols import PROTOCOLS
from bench.evaluation.summary import DEFAULT_BOOTSTRAP
from bench.store.efficiency import write_efficiency
from bench.store.records import Status
from bench.store.results import method_dir_name
from bench.store.shard import merge as merge_shards, parse_shard
from bench.views import plots
from bench.views.compare import compare_methods
from bench.views.leaderboard import write_leaderboard


class Harness:
    """``bench.api.commands.Harness``: what a command below the CLI's floor (a plugin's) may ask of
    the engine, handed to every command as its click context's ``obj``."""

    @staticmethod
    def run(dataset, *, report, **config) -> list:
        return run_all(dataset, RunConfig(cache_dir=default_cache_dir() / "outputs", **config), report=report)


app = typer.Typer(add_completion=False, no_args_is_help=True, context_settings={"obj": Harness()},
                  help="hwr-bench: cross-script handwriting retrieval benchmark.")
data_app = typer.Typer(no_args_is_help=True, help="Build, check and inspect datasets.")
app.add_typer(data_app, name="data")

COMMAND_GROUP = "hwr_bench.commands"


class Engine(str, Enum):
    LOCAL = "local"
    RAY = "ray"          # method x shard jobs on a Ray cluster, merged here


class ImportFormat(str, Enum):
    IAM = "iam"
    HWDB = "hwdb"
    TABLE = "table"      # a datasets folder, Parquet, or an image folder with metadata.csv/jsonl


class LexiconMode(str, Enum):
    JOIN = "join"        # semantic ids from the hwr-bench lexicon, by text
    OWN = "own"          # the set's own vocabulary


def _model_path_option(methods: list[str], model_path: Path | None) -> list[str]:
    """``--model-path`` belongs to the one method in --methods whose options take a ``model_path``."""
    if model_path is None:
        return []
    takers = [m for m in methods if "model_path" in option_fields(METHODS.method_class(m).Options)]
    if len(takers) != 1:
        fail(f"--model-path applies to exactly one method with a model_path option, found {takers or 'none'}; "
             "use --option METHOD.model_path=DIR for several")
    return [f"{takers[0]}.model_path={model_path}"]


@app.command()
def run(
    methods: Annotated[Optional[str], typer.Option("--methods", "-m", help="Comma-separated method names (see "
                                                   "`bench methods`; default: those that run offline here).")] = None,
    protocols: ProtocolsOpt = None,
    dataset: DatasetOpt = None,
    results_dir: ResultsDirOpt = Path("results"),
    cache_dir: Annotated[Optional[Path], typer.Option("--cache-dir", help="Output cache (default "
                                                      "$HWR_BENCH_CACHE/outputs or ~/.cache/hwr-bench/outputs).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", metavar="", help="Do not read or write the output cache.")] = False,
    limit: LimitOpt = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for query sampling and bootstrap.")] = 0,
    overwrite: Annotated[Overwrite, typer.Option("--overwrite", help="Which stored results to recompute.")]
    = Overwrite.ONLY_STALE,
    bootstrap: BootstrapOpt = DEFAULT_BOOTSTRAP,
    option: OptionOpt = [],
    model_path: Annotated[Optional[Path], typer.Option("--model-path", help="Local weights folder for the one "
                                                       "method in --methods that takes a model_path option.")] = None,
    method_timeout: Annotated[Optional[float], typer.Option("--method-timeout", min=1, help="Seconds a method may "
                                                            "spend on one protocol before it is recorded as failed.")] = None,
    lock_wait: Annotated[float, typer.Option("--lock-wait", min=0, help="Seconds to wait for another run's lock "
                                             "on the results folder.")] = 0.0,
    shard: Annotated[Optional[str], typer.Option("--shard", help="I/N: evaluate the I-th of N deterministic query "
                                                 "slices (combine with `bench merge`).")] = None,
    engine: Annotated[Engine, typer.Option("--engine", help="Where the jobs run.")] = Engine.LOCAL,
    ray_address: Annotated[Optional[str], typer.Option("--ray-address", help="Ray cluster address (default: "
                                                       "start a local instance).")] = None,
    ray_shards: Annotated[int, typer.Option("--ray-shards", min=1, help="Query shards per method with --engine ray.")] = 2,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", min=1, help="Images per method call "
                                                      "(default: each method's own); results do not depend "
                                                      "on it.")] = None,
    verify_n: Annotated[int, typer.Option("--verify", min=0, help="Afterwards, recompute N seeded queries per "
                                          "subtask of each method from nothing and compare them with the stored "
                                          "per-query results (0: no check).")] = 0,
    offline: OfflineOpt = False,
    strict: Annotated[bool, typer.Option("--strict", metavar="", help="Exit 3 when any requested method is "
                                         "unavailable here (without it: only when nothing ran).")] = False,
    allow_dirty: AllowDirtyOpt = False,
    quiet: QuietOpt = False,
):
    """Run methods x protocols and write results/<method>/<protocol>.json."""
    if offline:
        go_offline()
    names = method_names(methods)
    results_dir = tier_results_dir(dataset, results_dir)
    config = RunConfig(methods=names, protocols=protocol_names(protocols), results_dir=results_dir,
                       cache_dir=None if no_cache else (cache_dir or default_cache_dir() / "outputs"),
                       limit=limit, seed=seed, overwrite=overwrite, n_boot=bootstrap,
                       method_options=method_options(names, option + _model_path_option(names, model_path)),
                       method_timeout=method_timeout, lock_wait=lock_wait, batch_size=batch_size,
                       shard=None if shard is None else parse_shard(shard), allow_dirty=allow_dirty)
    if engine is Engine.RAY and shard is not None:
        fail("--shard: --engine ray makes its own shards (--ray-shards)")
    check_committed_code(results_dir, allow_dirty)   # before the dataset loads, for either engine
    out = console()
    ds = load_or_build_dataset(dataset, quiet)
    out.print(f"Dataset {ds.name} ({len(ds)} samples, fingerprint {ds.fingerprint[:12]})")
    if engine is Engine.RAY:
        _run_on_ray(ds, config, ray_shards, ray_address, out)
    else:
        _run_here(ds, config, verify_n, quiet, out, strict)


def _run_on_ray(ds, config: RunConfig, shards: int, address: str | None, out) -> None:
    from rich.markup import escape

    merged = run_on_ray(ds, config, shards=shards, address=address, report=lambda line: out.print(escape(line)))
    out.print(f"merged {len(merged)} result(s) into {config.results_dir}")


def _run_here(ds, config: RunConfig, verify_n: int, quiet: bool, out, strict: bool) -> None:
    """The local engine: run, then (with --verify) check a sample against the stored results."""
    from rich.markup import escape

    with tracker(quiet) as progress:
        reporter = outcome_reporter(out)
        try:
            outcomes = run_all(ds, config, tracker=progress, report=reporter)
        finally:
            reporter.flush()
        verdicts = []
        if verify_n:
            out.print(f"Verifying: {verify_n} seeded queries per subtask of each method, recomputed here from nothing")
            verdicts = verify(ds, list(config.methods), config.method_options, config.results_dir, verify_n,
                              seed=config.seed, tracker=progress, report=lambda line: out.print(escape(line)))
    finish(outcomes, verdicts, strict)


def _method_status(name: str) -> tuple[str, str, str]:
    """(family, group, availability) of a registered name, as `bench methods` prints them."""
    try:
        if name.endswith(":"):
            return "(prefix)", "", "takes a spec: " + name + "SPEC"
        m = METHODS.create(name)
        a = m.availability()
        return m.family.value, m.info.group.value, "yes" if a.ok else f"no: {a.reason}" + (f" (fix: {a.fix})" if a.fix else "")
    except Exception as exc:
        return "?", "?", f"broken: {type(exc).__name__}: {exc}"


@app.command()
def methods(
    paper: Annotated[bool, typer.Option("--paper", help="The seed paper's 28 compared systems (Table 2) and "
                                        "the method that runs each here, with the paper's figures.")] = False,
):
    """List registered methods (built-in and plugins) and whether they can run here."""
    from rich.markup import escape
    from rich.table import Table

    if paper:
        from bench.views.paper import PAPER_BASELINES

        table = Table("paper row", "method", "family", "paper ID Acc@1", "paper OOD Acc@1", "params (M)", "available")
        for row in PAPER_BASELINES:
            family, _, avail = _method_status(row.method)
            cells = (row.name, row.method, family, f"{row.in_domain[0]:.4f}", f"{row.ood[0]:.4f}",
                     f"{row.params_m:,.0f}", avail)
            table.add_row(*(escape(c) for c in cells))
        console().print(table)
        return
    table = Table("name", "family", "group", "source", "available")
    for name, reg in sorted(METHODS.registrations().items()):
        family, group, avail = _method_status(name)
        table.add_row(*(escape(str(cell)) for cell in (name, family, group, reg.source, avail)))
    console().print(table)


@app.command()
def protocols():
    """List evaluation protocols with their versions."""

    for spec in PROTOCOLS.values():
        console().print(f"[bold]{spec.name}[/] v{spec.version} ({spec.kind.value}): {spec.description}")


@app.command()
def efficiency(
    methods: Annotated[Optional[str], typer.Option("--methods", "-m", help="Comma-separated method names "
                                                   "(default: those registered for efficiency).")] = None,
    dataset: DatasetOpt = None,
    results_dir: ResultsDirOpt = Path("results"),
    option: OptionOpt = [],
    offline: OfflineOpt = False,
    allow_dirty: AllowDirtyOpt = False,
    quiet: QuietOpt = False,
):
    """Params, MACs, latency (batch 1 and batched), peak memory and the compute-in-memory
    estimate per method; writes results/<method>/efficiency.json."""
    from rich.markup import escape

    if offline:
        go_offline()

    names = split(methods) or list(METHODS.tagged(EFFICIENCY))
    options = method_options(names, option)
    results_dir = tier_results_dir(dataset, results_dir)
    check_committed_code(results_dir, allow_dirty)
    out = console()
    ds = load_or_build_dataset(dataset, quiet)
    for name in names:
        record = measure_isolated(name, options.get(name, {}), str(ds.root))
        path = write_efficiency(results_dir, name, record)
        if record["status"] == Status.OK:
            lat, macs = record["latency_ms"], record.get("macs_per_image")
            out.print(f"[green]{'ok':>12}[/] {escape(name):<20} MACs {'—' if macs is None else f'{macs / 1e6:.1f}M'}  "
                      + "  ".join(f"{k} {v:.2f} ms" for k, v in lat.items())
                      + f"  peak {record['peak_rss_mb']:.0f} MB  -> {path}")
        else:
            err = record.get("error", {})
            out.print(f"[yellow]{record['status']:>12}[/] {escape(name):<20} "
                      + escape(err.get('reason') or err.get('message', '')))


@app.command()
def plot(
    results_dir: ResultsDirOpt = Path("results"),
    out: Annotated[Optional[Path], typer.Option("--out", help="Folder for the PNGs (default: RESULTS_DIR/plots).")] = None,
    projection: Annotated[Optional[str], typer.Option("--projection", help="Comma-separated embedding methods to "
                                                      "project (PCA); default: the group `ours` methods with an R/D "
                                                      "result that are not quantised; '' for none.")] = None,
    dataset: DatasetOpt = None,
    quiet: QuietOpt = False,
):
    """Accuracy vs latency, cross-lingual heatmaps, embedding projections, int8/CIM bars."""
    from rich.markup import escape


    results_dir = tier_results_dir(dataset, results_dir)
    out = out or results_dir / "plots"
    names = plots.default_projections(results_dir) if projection is None else split(projection)
    for name in names:
        METHODS.check(name)
    out.mkdir(parents=True, exist_ok=True)
    made = [plots.accuracy_vs_latency(results_dir, out / "accuracy_vs_latency.png"),
            plots.xling_heatmap(results_dir, out / "xling_heatmap.png"),
            plots.gallery_size(results_dir, out / "gallery_size.png"),
            plots.int8_cim(results_dir, out / "int8_cim.png")]
    ds = load_or_build_dataset(dataset, quiet) if names else None
    for name in names:
        method = METHODS.create(name)
        available = method.availability()
        if not available.ok or not ops_for(method).embeds:
            reason = available.reason if not available.ok else "not an embedding method"
            console(stderr=True).print(f"[yellow]skipping the {escape(name)} projection: {escape(reason)}[/]")
            continue
        made.append(plots.projection(name, ds, partial(embeddings, method, ds, default_cache_dir() / "outputs"),
                                     out / f"projection_{method_dir_name(name)}.png"))
    for path in made:
        if path is not None:
            console().print(f"wrote {path}")


@app.command()
def merge(
    shards: Annotated[list[Path], typer.Argument(help="Results folders of `bench run --shard i/n`, one per shard.")],
    results_dir: Annotated[Path, typer.Option("--results-dir", help="Where the merged results go.")] = Path("results"),
):
    """Combine shard results into whole results, metrics identical to an unsharded run."""

    for item in merge_shards(shards, results_dir):
        console().print(f"merged {item}")


@app.command()
def leaderboard(
    results_dir: ResultsDirOpt = Path("results"),
    out: Annotated[Path, typer.Option("--out", help="The Markdown file to write.")] = Path("leaderboard.md"),
):
    """Rebuild leaderboard.md from results/ (deterministic), and the generated blocks of the
    README.md and docs/*.md beside it."""
    from bench.views.docs_blocks import doc_files, refresh

    write_leaderboard(results_dir, out)
    console().print(f"wrote {out}")
    for path in refresh(doc_files(out.parent), results_dir):
        console().print(f"refreshed {path}")


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", help="Folder for the site (replaced if it holds an earlier "
                                      "report).")] = Path("site"),
    method: Annotated[Optional[str], typer.Option("--method", "-m", help="Write only this method's page "
                                                  "(a quick look).")] = None,
    protocol: Annotated[Optional[str], typer.Option("--protocol", "-p", help="With --method: only this "
                                                    "protocol's failure gallery.")] = None,
    compare_pairs: Annotated[list[str], typer.Option("--compare", help="A,B: also a compare page for methods A "
                                                     "and B (repeatable; ours against the strongest other "
                                                     "method on ood and xling is always made).")] = [],
    open_page: Annotated[Optional[bool], typer.Option("--open/--no-open", help="Open the page in a browser "
                                                      "(default: with --method only).")] = None,
    results_dir: ResultsDirOpt = Path("results"),
    dataset: DatasetOpt = None,
    quiet: QuietOpt = False,
):
    """A static site from results/: sortable leaderboard, plots, per-method failure galleries, compare pages."""
    from bench.views.report import build_report

    if protocol is not None and method is None:
        fail("--protocol needs --method (the full site shows every protocol)")
    pairs = []
    for item in compare_pairs:
        names = split(item)
        if len(names) != 2:
            fail(f"--compare {item!r}: expected two method names, A,B")
        pairs.append((names[0], names[1]))
    ds = load_or_build_dataset(dataset, quiet)
    summary = build_report(tier_results_dir(dataset, results_dir), ds, out, method=method, protocol=protocol,
                           compare=pairs)
    from rich.markup import escape

    err = console(stderr=True)
    for line in summary.refused:
        err.print(f"[yellow]refused[/] {escape(line)}")
    console().print(escape(f"wrote {summary.index} ({summary.pages} page(s), {summary.thumbnails} thumbnails, "
                           f"{summary.bytes / 1e6:.1f} MB; dataset {ds.name}, fingerprint {ds.fingerprint[:16]})"))
    if open_page if open_page is not None else method is not None:
        import webbrowser

        webbrowser.open(summary.index.resolve().as_uri())


@app.command()
def compare(
    method_a: Annotated[str, typer.Argument(help="First method.")],
    method_b: Annotated[str, typer.Argument(help="Second method.")],
    protocols: Annotated[str, typer.Option("--protocols", "-p", help="Comma-separated protocols.")] = "ood",
    metric: Annotated[str, typer.Option("--metric", help="Per-query metric: acc@1, acc@3, acc@5, mrr, nes, map.")]
    = "acc@1",
    results_dir: ResultsDirOpt = Path("results"),
    bootstrap: Annotated[int, typer.Option("--bootstrap", min=100, help="Bootstrap resamples.")] = DEFAULT_BOOTSTRAP,
):
    """Paired bootstrap test of A - B on the queries both were evaluated on."""

    for protocol in protocol_names(protocols):
        test, n_common = compare_methods(results_dir, method_a, method_b, protocol, metric, bootstrap)
        console().print(f"{protocol} {metric}: {method_a} - {method_b} = {test.mean_difference:+.4f} "
                        f"(95% CI {test.ci_low:+.4f} to {test.ci_high:+.4f}), p = {test.p_value:.4g}, "
                        f"{n_common} paired queries")


@data_app.command("assets")
def data_assets(
    only: Annotated[list[str], typer.Option("--only", help="Fetch only these assets (repeatable).")] = [],
    update_lock: Annotated[bool, typer.Option("--update-lock", metavar="", help="Re-pin archive hashes "
                                              "(maintainers).")] = False,
):
    """Fetch the pinned fonts and stroke data from PyPI, npm and Debian into the cache."""

    got = fetch_all(default_cache_dir(), only or None, update_lock=update_lock, report=console().print)
    console().print(f"{len(got)} asset(s) ready in {default_cache_dir() / 'assets'}")


@data_app.command("build")
def data_build(
    size: Annotated[DatasetSize, typer.Option("--size", help="small: the default benchmark; hand: the "
                                              "hand tier (generative writers, difficulty calibrated on real-data "
                                              "figures, bounded by legibility); paper: Table 1's counts; train-aug: extra training "
                                              "renders; paper-train: the paper recipe's pre-training set (262k+ "
                                              "train renders); tiny, toy: for tests.")]
    = DatasetSize.SMALL,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder (default: the cache's datasets/).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the renders.")] = 0,
    workers: Annotated[Optional[int], typer.Option("--workers", min=1, help="Rendering processes (default: "
                                                   "all cores).")] = None,
    replace: ReplaceOpt = False,
    quiet: QuietOpt = False,
):
    """Build a dataset deterministically (same seed and assets, same fingerprint)."""
    import time


    out = out or default_dataset_path(size.value, seed)
    start = time.perf_counter()
    summary = build_dataset(out, size, seed, workers, quiet, replace=replace)
    ds = load_dataset(out)
    console().print(f"built {out} in {time.perf_counter() - start:.1f}s: {len(ds)} samples, "
                    f"{len({e.semantic_id for e in ds.lexicon})} concepts, fingerprint {ds.fingerprint[:16]}")
    if "styles" in summary:
        console().print("styles per language (in-domain / OOD): " + ", ".join(
            f"{lang} {c['id']}/{c['ood']}" for lang, c in summary["styles"].items()))
    _print_counts(ds)


@data_app.command("show")
def data_show(
    dataset: DatasetOpt = None,
    out: Annotated[Optional[Path], typer.Option("--out", help="The PNG to write (default: "
                                                "<cache>/contact_sheet.png, never the working tree).")] = None,
    per_row: Annotated[int, typer.Option("--per-row", min=1, help="Samples per row.")] = 6,
    seed: Annotated[int, typer.Option("--seed", help="Which samples are drawn.")] = 0,
):
    """Write a contact sheet: a row of samples per language and split."""

    ds = load_or_build_dataset(dataset, quiet=False)
    out = out or default_cache_dir() / "contact_sheet.png"
    contact_sheet(ds, out, per_row=per_row, seed=seed)
    console().print(f"wrote {out}")


@data_app.command("import", epilog=f"table: {importers.TABLE_COLUMNS_HELP}\n\nExample metadata.csv:\n\n"
                  + "\n\n".join(f"  {line}" for line in importers.TABLE_EXAMPLE.splitlines()))
def data_import(
    fmt: Annotated[ImportFormat, typer.Argument(help="The source's layout.", metavar="FORMAT")],
    source: Annotated[Path, typer.Argument(help="The folder or file to read.")],
    out: Annotated[Path, typer.Option("--out", help="Dataset folder to write.")],
    lexicon: Annotated[LexiconMode, typer.Option("--lexicon", help="join: semantic ids from the hwr-bench lexicon "
                                                 "by text; own: the set's own vocabulary.")] = LexiconMode.JOIN,
    split_: Annotated[str, typer.Option("--split", help="Split for rows that do not name one.")] = "test_ood",
    name: Annotated[Optional[str], typer.Option("--name", help="Dataset name.")] = None,
    no_compose: Annotated[bool, typer.Option("--no-compose", metavar="", help="hwdb: do not compose lexicon words "
                                             "from a writer's characters.")] = False,
    replace: ReplaceOpt = False,
    allow_outside_source: Annotated[bool, typer.Option(importers.ALLOW_OUTSIDE_FLAG, metavar="", help="Read image "
                                                       "paths that resolve outside SOURCE (../, absolute, "
                                                       "symlinks); refused otherwise.")] = False,
):
    """Import a real handwriting set into the hwr-bench schema.

    iam: the IAM words folder (words.txt + words/). hwdb: CASIA-HWDB .gnt files. table: columns below.
    Every faulty row is listed in one error and nothing is written; an existing --out is never
    replaced without --replace.
    """

    readers = {ImportFormat.IAM: lambda: importers.read_iam(source, split_, allow_outside=allow_outside_source),
               ImportFormat.HWDB: lambda: importers.read_hwdb(source, split_, compose_words=not no_compose),
               ImportFormat.TABLE: lambda: importers.read_table(source, split_, allow_outside=allow_outside_source)}
    report = importers.import_samples(readers[fmt](), out, name or f"{fmt.value}-{source.name}",
                                      lexicon_mode=lexicon.value,
                                      builder={"name": f"import:{fmt.value}", "source": str(source)},
                                      replace=replace, source=source)
    from rich.markup import escape

    msg = f"wrote {escape(str(out))}: {report.kept} samples, fingerprint {report.fingerprint[:16]}"
    if report.dropped_not_in_lexicon:   # words from the user's data: never read as markup
        msg += (f"; dropped {report.dropped_not_in_lexicon} not in the lexicon "
                f"(e.g. {', '.join(escape(e) for e in report.dropped_examples)})")
    console().print(msg)


@data_app.command("validate")
def data_validate(path: Annotated[Path, typer.Argument(help="Dataset folder.")]):
    """Check a dataset folder completely (schema, lexicon, fingerprint, every image decodes)."""

    ds = load_dataset(path)
    for s in ds.samples:
        ds.image_item(s.key)
    console().print(f"{path}: OK, {len(ds)} samples, fingerprint {ds.fingerprint[:16]}")
    _print_counts(ds)


@data_app.command("lexicon")
def data_lexicon():
    """Rebuild the committed trilingual lexicon (bench/data/lexicon.tsv) from CLDR data (maintainers)."""

    console().print(f"wrote {LEXICON_PATH} with {write_lexicon()} concepts")


def _print_counts(ds) -> None:
    from rich.table import Table


    table = Table("split", *LANGUAGES)
    for split_name, row in ds.counts().items():
        table.add_row(split_name, *(str(row[lang]) for lang in LANGUAGES))
    console().print(table)


def _load_command_plugins() -> None:
    for ep in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name):
        try:
            ep.load()(app)
        except Exception as exc:   # a broken plugin loses its commands, not the CLI
            print(f"warning: commands not loaded: {entry_point_load_error(ep, exc)}", file=sys.stderr)


_load_command_plugins()


def main() -> None:
    try:
        code = app(standalone_mode=False)
    except UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":   # plain `bench`: the help, as click shows it
            exc.show()
        else:
            # Validation messages of the option parser carry a "Value error, " prefix of their own.
            message = ' '.join(exc.format_message().split()).replace("Value error, ", "")
            print(f"error: {message}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except typer.Abort as exc:
        if isinstance(exc.__context__, EOFError):   # typer turns EOFError into Abort: a truncated file
            print(f"error: unexpected end of a file (truncated?): {exc.__context__}", file=sys.stderr)
            sys.exit(EXIT_BAD_INPUT)
        code = EXIT_INTERRUPTED
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
    except HwrBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    if code == EXIT_INTERRUPTED:   # Ctrl-C (typer returns it as exit code 130)
        print("interrupted: every result written so far is kept; the same command resumes where it stopped",
              file=sys.stderr)
    sys.exit(code if isinstance(code, int) else 0)
