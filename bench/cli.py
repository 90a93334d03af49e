"""The ``bench`` command. Heavy modules are imported inside commands so ``bench --help`` is fast."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from bench.cache import DEFAULT_SIZE, default_dataset_path
from bench.errors import HwrBenchError
from bench.registry import DEFAULT_METHODS

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="hwr-bench: cross-script handwriting retrieval benchmark.")
data_app = typer.Typer(no_args_is_help=True, help="Build, check and inspect datasets.")
app.add_typer(data_app, name="data")

ALL_PROTOCOLS = "id,ood,xling,t2i,rd"


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _build_dataset(out: Path, size: str, seed: int, workers: Optional[int], quiet: bool) -> dict:
    from bench.cache import default_cache_dir
    from bench.data.assets import fetch_all
    from bench.data.builder import build
    from bench.data.toy import build_toy
    from bench.progress import Tracker

    console = _console()
    if size == "toy":
        fingerprint = build_toy(out, seed=seed)
        return {"fingerprint": fingerprint}
    console.print("Fetching handwriting assets (fonts, stroke data) into the cache ...")
    fetch_all(default_cache_dir(), report=lambda line: None if quiet else console.print(line))
    console.print(f"Building the {size} benchmark at {out} ...")
    with Tracker(enabled=not quiet and sys.stderr.isatty()) as tracker:
        summary = build(out, size=size, seed=seed, cache_root=default_cache_dir(), workers=workers,
                        tracker=tracker)
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/] {note}")
    return summary


def _load_or_build_default(dataset: Optional[Path], quiet: bool):
    from bench.data.store import load_dataset

    if dataset is not None:
        return load_dataset(dataset)
    path = default_dataset_path()
    if not (path / "manifest.json").exists():
        _build_dataset(path, DEFAULT_SIZE, 0, None, quiet)
    return load_dataset(path)


def _parse_options(options: list[str]) -> dict[str, dict[str, str]]:
    parsed: dict[str, dict[str, str]] = {}
    for opt in options:
        target, eq, value = opt.partition("=")
        method, dot, key = target.rpartition(".")
        if not eq or not dot or not method or not key:
            raise typer.BadParameter(f"{opt!r}: expected METHOD.KEY=VALUE", param_hint="--option")
        parsed.setdefault(method, {})[key] = value
    return parsed


@app.command()
def run(
    methods: str = typer.Option(",".join(DEFAULT_METHODS), "--methods", "-m",
                                help="Comma-separated method names (see `bench methods`)."),
    protocols: str = typer.Option(ALL_PROTOCOLS, "--protocols", "-p", help="Comma-separated protocols (see `bench protocols`)."),
    dataset: Optional[Path] = typer.Option(None, "--dataset", "-d", help="Dataset folder; default: the embedded benchmark, built when absent."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", help="Where result files go."),
    cache_dir: Optional[Path] = typer.Option(None, "--cache-dir", help="Embedding cache (default $HWR_BENCH_CACHE or ~/.cache/hwr-bench)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the embedding cache."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="At most N queries per language or direction (seeded sample)."),
    seed: int = typer.Option(0, "--seed", help="Seed for query sampling and bootstrap."),
    overwrite: str = typer.Option("only-stale", "--overwrite", help="never | only-stale | always"),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=0, help="Bootstrap resamples for the 95% intervals (0: none)."),
    option: list[str] = typer.Option([], "--option", "-o", help="Method option METHOD.KEY=VALUE (repeatable)."),
    ours_checkpoint: Optional[Path] = typer.Option(None, "--ours-checkpoint", help="Checkpoint folder for `ours` (default: the shipped one)."),
    model_path: Optional[Path] = typer.Option(None, "--model-path",
                                              help="Local weights folder for the one hub model in --methods "
                                                   "(siglip, clip, openclip:, vlm:)."),
    method_timeout: Optional[float] = typer.Option(None, "--method-timeout", min=1,
                                                   help="Seconds a method may spend on one protocol before it is recorded as failed."),
    lock_wait: float = typer.Option(0.0, "--lock-wait", min=0, help="Seconds to wait for another run's lock on the results folder."),
    shard: Optional[str] = typer.Option(None, "--shard", help="I/N: evaluate the I-th of N deterministic query slices (combine with `bench merge`)."),
    engine: str = typer.Option("local", "--engine", help="local | ray (method x shard jobs on a Ray cluster, merged here)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster address (default: start a local instance)."),
    ray_shards: int = typer.Option(2, "--ray-shards", min=1, help="Query shards per method with --engine ray."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars."),
):
    """Run methods x protocols and write results/<method>/<protocol>.json."""
    from bench.cache import default_cache_dir
    from bench.progress import Tracker
    from rich.markup import escape

    from bench.runner import OVERWRITE_MODES, RunConfig, run as run_all
    from bench.shard import parse_shard

    if overwrite not in OVERWRITE_MODES:
        raise typer.BadParameter(f"must be one of {', '.join(OVERWRITE_MODES)}", param_hint="--overwrite")
    console = _console()
    ds = _load_or_build_default(dataset, quiet)
    config = RunConfig(methods=_split(methods), protocols=_split(protocols), results_dir=results_dir,
                       cache_dir=None if no_cache else (cache_dir or default_cache_dir() / "outputs"),
                       limit=limit, seed=seed, overwrite=overwrite, n_boot=bootstrap,
                       method_options=_parse_options(option + ([f"ours.checkpoint={ours_checkpoint}"] if ours_checkpoint else [])
                                                     + _model_path_option(_split(methods), model_path)),
                       method_timeout=method_timeout, lock_wait=lock_wait,
                       shard=None if shard is None else parse_shard(shard))
    console.print(f"Dataset {ds.name} ({len(ds)} samples, fingerprint {ds.fingerprint[:12]})")
    styles = {"ok": "green", "skipped": "dim", "unavailable": "yellow", "not_applicable": "dim",
              "failed": "red"}

    if engine not in ("local", "ray"):
        raise typer.BadParameter("must be local or ray", param_hint="--engine")
    if engine == "ray":
        from bench.engines.ray_engine import run_on_ray

        if shard is not None:
            raise typer.BadParameter("--engine ray makes its own shards (--ray-shards)", param_hint="--shard")
        merged = run_on_ray(ds, config, shards=ray_shards, address=ray_address,
                            report=lambda line: console.print(escape(line)))
        console.print(f"merged {len(merged)} result(s) into {results_dir}")
        return

    with Tracker(enabled=not quiet and sys.stderr.isatty()) as tracker:
        def report(o):
            line = (f"[{styles.get(o.status, '')}]{o.status:>14}[/] {escape(o.method):<24} {o.protocol:<6} "
                    f"{escape(o.message)}")
            console.print(line)
        outcomes = run_all(ds, config, tracker=tracker, report=report)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        console.print(f"[red]{len(failed)} method/protocol pair(s) failed; see their result files.[/]")
        raise typer.Exit(1)


HUB_MODEL_FAMILIES = ("siglip", "clip", "openclip", "vlm")


def _model_path_option(methods: list[str], model_path: Path | None) -> list[str]:
    if model_path is None:
        return []
    hub = [m for m in methods if m.split(":", 1)[0] in HUB_MODEL_FAMILIES]
    if len(hub) != 1:
        raise typer.BadParameter(f"applies to exactly one hub model in --methods, found {hub or 'none'}; "
                                 "use --option METHOD.model_path=DIR for several", param_hint="--model-path")
    return [f"{hub[0]}.model_path={model_path}"]


@app.command()
def methods():
    """List registered methods (built-in and entry points) and whether they can run here."""
    from rich.markup import escape
    from rich.table import Table

    from bench.registry import create, registrations

    table = Table("name", "family", "group", "source", "available")
    for name, reg in sorted(registrations().items()):
        try:
            m = create(name) if not name.endswith(":") else None
            if m is None:
                family, group, avail = "(prefix)", "", "takes a spec: " + name + "SPEC"
            else:
                a = m.availability()
                family, group = m.info.family.value, m.info.group
                avail = "yes" if a.ok else f"no: {a.reason}" + (f" (fix: {a.fix})" if a.fix else "")
        except Exception as exc:
            family, group, avail = "?", "?", f"broken: {type(exc).__name__}: {exc}"
        table.add_row(*(escape(str(cell)) for cell in (name, family, group, reg.source, avail)))
    _console().print(table)


@app.command()
def protocols():
    """List evaluation protocols with their versions."""
    from bench.protocols import PROTOCOLS

    for spec in PROTOCOLS.values():
        _console().print(f"[bold]{spec.name}[/] v{spec.version} ({spec.kind}): {spec.description}")


EFFICIENCY_METHODS = "ours,ours-int8,rapidocr,rapidocr-ctc,tesseract,rapidocr+embed"


@app.command()
def efficiency(
    methods: str = typer.Option(EFFICIENCY_METHODS, "--methods", "-m", help="Comma-separated method names."),
    dataset: Optional[Path] = typer.Option(None, "--dataset", "-d", help="Dataset for the latency sample (default: the embedded benchmark)."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir"),
    option: list[str] = typer.Option([], "--option", "-o", help="Method option METHOD.KEY=VALUE (repeatable)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Params, MACs, latency (batch 1 and batched), peak memory and the compute-in-memory
    estimate per method; writes results/<method>/efficiency.json."""
    from rich.markup import escape

    from bench.efficiency.measure import measure_isolated, write_efficiency
    from bench.registry import resolve

    console = _console()
    for name in _split(methods):
        resolve(name)   # an unknown name is bad input: stop before any work
    ds = _load_or_build_default(dataset, quiet)
    options = _parse_options(option)
    for name in _split(methods):
        record = measure_isolated(name, options.get(name, {}), str(ds.root))
        label = record.get("method", {}).get("name", name)
        path = write_efficiency(results_dir, label, record)
        if record["status"] == "ok":
            lat = record["latency_ms"]
            macs = record.get("macs_per_image")
            console.print(f"[green]{'ok':>12}[/] {escape(label):<20} "
                          f"MACs {'—' if macs is None else f'{macs / 1e6:.1f}M'}  "
                          + "  ".join(f"{k} {v:.2f} ms" for k, v in lat.items())
                          + f"  peak {record['peak_rss_mb']:.0f} MB  -> {path}")
        else:
            err = record.get("error", {})
            console.print(f"[yellow]{record['status']:>12}[/] {escape(label):<20} "
                          + escape(err.get('reason') or err.get('message', '')))


@app.command()
def plot(
    results_dir: Path = typer.Option(Path("results"), "--results-dir"),
    out: Optional[Path] = typer.Option(None, "--out", help="Folder for the PNGs (default: RESULTS_DIR/plots)."),
    projection: str = typer.Option("ours", "--projection", help="Comma-separated methods to project (PCA); '' for none."),
    dataset: Optional[Path] = typer.Option(None, "--dataset", "-d"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Accuracy vs latency, cross-lingual heatmaps, embedding projections, int8/CIM bars."""
    from rich.markup import escape

    from bench import plots
    from bench.cache import default_cache_dir
    from bench.registry import create
    from bench.results import method_dir_name

    out = out or results_dir / "plots"
    out.mkdir(parents=True, exist_ok=True)
    made = [plots.accuracy_vs_latency(results_dir, out / "accuracy_vs_latency.png"),
            plots.xling_heatmap(results_dir, out / "xling_heatmap.png"),
            plots.int8_cim(results_dir, out / "int8_cim.png")]
    names = _split(projection)
    if names:
        ds = _load_or_build_default(dataset, quiet)
        for name in names:
            method = create(name)
            available = method.availability()
            if not available.ok:
                _console(stderr=True).print(f"[yellow]skipping the {escape(name)} projection: "
                                            f"{escape(available.reason)}[/]")
                continue
            if method.info.family.value != "embedding":
                _console(stderr=True).print(f"[yellow]skipping the {name} projection: not an embedding method[/]")
                continue
            made.append(plots.projection(method, ds, default_cache_dir() / "outputs",
                                         out / f"projection_{method_dir_name(name)}.png"))
    for path in made:
        if path is not None:
            _console().print(f"wrote {path}")


@app.command()
def merge(
    shards: list[Path] = typer.Argument(..., help="Results folders of `bench run --shard i/n`, one per shard."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir", help="Where the merged results go."),
):
    """Combine shard results into whole results, metrics identical to an unsharded run."""
    from bench.shard import merge as merge_shards

    for item in merge_shards(shards, results_dir):
        _console().print(f"merged {item}")


@app.command()
def leaderboard(
    results_dir: Path = typer.Option(Path("results"), "--results-dir"),
    out: Path = typer.Option(Path("leaderboard.md"), "--out"),
):
    """Rebuild leaderboard.md from results/ (deterministic)."""
    from bench.leaderboard import write_leaderboard

    write_leaderboard(results_dir, out)
    _console().print(f"wrote {out}")


@app.command()
def compare(
    method_a: str = typer.Argument(..., help="First method."),
    method_b: str = typer.Argument(..., help="Second method."),
    protocol: str = typer.Option("ood", "--protocol", "-p"),
    metric: str = typer.Option("acc@1", "--metric"),
    results_dir: Path = typer.Option(Path("results"), "--results-dir"),
    n_boot: int = typer.Option(10000, "--bootstrap", min=100),
):
    """Paired bootstrap test of A - B on the queries both were evaluated on."""
    from bench.compare import compare_methods

    test, n_common = compare_methods(results_dir, method_a, method_b, protocol, metric, n_boot)
    _console().print(f"{protocol} {metric}: {method_a} - {method_b} = {test.mean_difference:+.4f} "
                     f"(95% CI {test.ci_low:+.4f} to {test.ci_high:+.4f}), p = {test.p_value:.4g}, "
                     f"{n_common} paired queries")


@app.command("train")
def train_cmd(
    config: Optional[Path] = typer.Option(None, "--config", help="JSON file of training options (see ourmodel/train.py TrainConfig)."),
    out: Path = typer.Option(..., "--out", help="Run folder: checkpoints, curve.jsonl; re-run to resume."),
    dataset: Optional[Path] = typer.Option(None, "--dataset", "-d", help="Dataset (default: the embedded benchmark)."),
    set_: list[str] = typer.Option([], "--set", help="Override an option, KEY=VALUE (JSON value), repeatable."),
    extra_train: list[Path] = typer.Option([], "--extra-train", help="Another dataset whose train split joins (e.g. a second seed's renders)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Train our dual encoder on a dataset's train split (resumable)."""
    import json as _json

    from bench.cache import default_cache_dir
    from bench.progress import Tracker
    from bench.data.store import load_dataset
    from ourmodel.pipeline import load_train_config, run_training

    overrides = {}
    for item in set_:
        key, eq, value = item.partition("=")
        if not eq:
            raise typer.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint="--set")
        try:
            overrides[key] = _json.loads(value)
        except _json.JSONDecodeError:
            overrides[key] = value
    cfg = load_train_config(config, overrides)
    ds = _load_or_build_default(dataset, quiet)
    console = _console()
    with Tracker(enabled=not quiet and sys.stderr.isatty()) as tracker:
        run_training(ds, out, cfg, default_cache_dir(), extra_train=[load_dataset(p) for p in extra_train],
                     tracker=tracker, log=console.print)
    console.print(f"trained model in {out / 'final'}")


@app.command()
def ablate(
    out: Path = typer.Option(Path("runs/ablate"), "--out", help="Folder of the ablation runs (resumable)."),
    steps: int = typer.Option(300, "--steps", min=10, help="Training steps per variant (the reduced budget)."),
    variants: str = typer.Option("full,no-sem,no-lexicon-i2t,infonce-only,no-stage2", "--variants"),
    protocols: str = typer.Option("id,ood,xling", "--protocols", "-p"),
    limit: Optional[int] = typer.Option(300, "--limit", min=1, help="Queries per language or direction."),
    results_dir: Path = typer.Option(Path("results"), "--results-dir"),
    dataset: Optional[Path] = typer.Option(None, "--dataset", "-d"),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """The paper's Table 5 at a reduced budget: train each variant with one learning signal
    switched off, evaluate it as ours-ablate:NAME; results join the leaderboard's ablation rows."""
    from rich.markup import escape

    from bench.cache import default_cache_dir
    from bench.runner import RunConfig, run as run_all
    from ourmodel.ablation import train_ablations

    console = _console()
    ds = _load_or_build_default(dataset, quiet)
    names = _split(variants)
    console.print(f"Ablations at a reduced budget: {steps} steps each, {ds.name} train split only, "
                  f"evaluated on {protocols} with at most {limit} queries per subtask.")
    checkpoints = train_ablations(ds, out, default_cache_dir(), steps, names, log=console.print)
    methods = [f"ours-ablate:{n}" for n in names]
    config = RunConfig(methods=methods, protocols=_split(protocols), results_dir=results_dir,
                       cache_dir=default_cache_dir() / "outputs", limit=limit, n_boot=1000,
                       method_options={m: {"checkpoint": str(checkpoints[n])} for m, n in zip(methods, names)})
    for o in run_all(ds, config):
        console.print(f"{o.status:>14} {escape(o.method):<28} {o.protocol:<6} {escape(o.message)}")


@app.command()
def curves(
    runs: list[Path] = typer.Argument(..., help="Training run folders (or their curve.jsonl files)."),
    out: Path = typer.Option(Path("results/ours/training/curves.png"), "--out"),
    x: str = typer.Option("step", "--x", help="step | images_seen | seconds (wall time is confounded when runs share the CPU)"),
):
    """Plot learning curves of training runs side by side (validation Acc@1 against training steps)."""
    from ourmodel.curves import plot_curves

    files = {(r.parent.name if r.is_file() else r.name): (r if r.is_file() else r / "curve.jsonl") for r in runs}
    plot_curves(files, out, x=x)
    _console().print(f"wrote {out}")


@data_app.command("assets")
def data_assets(
    only: list[str] = typer.Option([], "--only", help="Fetch only these assets (repeatable)."),
    update_lock: bool = typer.Option(False, "--update-lock", help="Re-pin archive hashes (maintainers)."),
):
    """Fetch the pinned fonts and stroke data from PyPI, npm and Debian into the cache."""
    from bench.cache import default_cache_dir
    from bench.data.assets import fetch_all

    console = _console()
    got = fetch_all(default_cache_dir(), only or None, update_lock=update_lock, report=console.print)
    console.print(f"{len(got)} asset(s) ready in {default_cache_dir() / 'assets'}")


@data_app.command("build")
def data_build(
    size: str = typer.Option("small", "--size", help="small (default benchmark), paper (Table 1 counts), tiny, train-aug (extra training renders), toy."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: the cache's datasets/ folder)."),
    seed: int = typer.Option(0, "--seed"),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Rendering processes (default: all cores)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
):
    """Build a dataset deterministically (same seed and assets, same fingerprint)."""
    import time

    from bench.data.store import load_dataset

    out = out or default_dataset_path(size, seed)
    start = time.perf_counter()
    summary = _build_dataset(out, size, seed, workers, quiet)
    ds = load_dataset(out)
    _console().print(f"built {out} in {time.perf_counter() - start:.1f}s: {len(ds)} samples, "
                     f"{len({e.semantic_id for e in ds.lexicon})} concepts, fingerprint {ds.fingerprint[:16]}")
    if "styles" in summary:
        _console().print("styles per language (in-domain / OOD): " + ", ".join(
            f"{lang} {c['id']}/{c['ood']}" for lang, c in summary["styles"].items()))
    _print_counts(ds)


@data_app.command("show")
def data_show(
    dataset: Optional[Path] = typer.Option(None, "--dataset", "-d", help="Dataset folder (default: the embedded benchmark)."),
    out: Path = typer.Option(Path("contact_sheet.png"), "--out"),
    per_row: int = typer.Option(6, "--per-row", min=1),
    seed: int = typer.Option(0, "--seed"),
):
    """Write a contact sheet: a row of samples per language and split."""
    from bench.data.show import contact_sheet

    ds = _load_or_build_default(dataset, quiet=False)
    contact_sheet(ds, out, per_row=per_row, seed=seed)
    _console().print(f"wrote {out}")


@data_app.command("import")
def data_import(
    fmt: str = typer.Argument(..., help="iam | hwdb | table (datasets folder, Parquet, or image folder with metadata.csv/jsonl)"),
    source: Path = typer.Argument(..., help="The folder or file to read."),
    out: Path = typer.Option(..., "--out", help="Dataset folder to write."),
    lexicon: str = typer.Option("join", "--lexicon", help="join: semantic ids from the hwr-bench lexicon by text; own: the set's own vocabulary."),
    split: str = typer.Option("test_ood", "--split", help="Split for rows that do not name one."),
    name: Optional[str] = typer.Option(None, "--name"),
    no_compose: bool = typer.Option(False, "--no-compose", help="hwdb: do not compose lexicon words from a writer's characters."),
):
    """Import a real handwriting set into the hwr-bench schema."""
    from bench.data import importers

    readers = {"iam": lambda: importers.read_iam(source, split),
               "hwdb": lambda: importers.read_hwdb(source, split, compose_words=not no_compose),
               "table": lambda: importers.read_table(source, split)}
    if fmt not in readers:
        raise typer.BadParameter(f"must be one of {', '.join(readers)}", param_hint="FORMAT")
    report = importers.import_samples(readers[fmt](), out, name or f"{fmt}-{source.name}",
                                      lexicon_mode=lexicon, builder={"name": f"import:{fmt}", "source": str(source)})
    msg = f"wrote {out}: {report.kept} samples, fingerprint {report.fingerprint[:16]}"
    if report.dropped_not_in_lexicon:
        msg += (f"; dropped {report.dropped_not_in_lexicon} not in the lexicon "
                f"(e.g. {', '.join(report.dropped_examples)})")
    _console().print(msg)


@data_app.command("validate")
def data_validate(path: Path = typer.Argument(..., help="Dataset folder.")):
    """Check a dataset folder completely (schema, lexicon, fingerprint, every image decodes)."""
    from bench.data.store import load_dataset

    ds = load_dataset(path)
    for s in ds.samples:
        ds.image_item(s.key)
    _console().print(f"{path}: OK, {len(ds)} samples, fingerprint {ds.fingerprint[:16]}")
    _print_counts(ds)


def _print_counts(ds) -> None:
    from rich.table import Table

    from bench.schema import LANGUAGES

    table = Table("split", *LANGUAGES)
    for split, row in ds.counts().items():
        table.add_row(split, *(str(row[l]) for l in LANGUAGES))
    _console().print(table)


def main() -> None:
    try:
        app()
    except HwrBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
