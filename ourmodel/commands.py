"""The in-house model's ``bench`` commands: ``train``, ``ablate``, ``curves``, ``quantize``.

They reach the harness the way any package's commands do: ``register`` is this package's
``hwr_bench.commands`` entry point (pyproject.toml), called with the ``bench`` typer app; they
import ``bench.api`` and ``bench.api.commands`` only, and run methods through ``harness(ctx)``
(``bench ablate``). This module stays cheap to import; each command imports what it needs when
it runs.
"""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from bench.api import HwrBenchError, load_dataset
from bench.api.commands import (DEFAULT_BOOTSTRAP, AllowDirtyOpt, BootstrapOpt, DatasetOpt, LimitOpt, ProtocolsOpt,
                                QuietOpt, ResultsDirOpt, check_committed_code, console, default_cache_dir,
                                default_dataset_path, finish, harness, load_or_build_dataset, outcome_reporter,
                                protocol_names, split, tracker)


class CurveAxis(str, Enum):
    STEP = "step"
    IMAGES_SEEN = "images_seen"
    SECONDS = "seconds"        # wall time is confounded when runs share the CPU


def train(
    out: Annotated[Path, typer.Option("--out", help="Run folder: checkpoints, curve.jsonl; re-run to resume.")],
    config: Annotated[Optional[Path], typer.Option("--config", help="JSON file of training options "
                                                   "(ourmodel/train.py TrainConfig).")] = None,
    dataset: DatasetOpt = None,
    set_: Annotated[list[str], typer.Option("--set", help="Override an option, KEY=VALUE (JSON value), "
                                            "repeatable.")] = [],
    extra_train: Annotated[list[Path], typer.Option("--extra-train", help="Another dataset whose train split "
                                                    "joins (e.g. a second seed's renders).")] = [],
    quiet: QuietOpt = False,
):
    """Train our dual encoder on a dataset's train split (resumable)."""
    from ourmodel.training_run import load_train_config, run_training

    overrides = {}
    for item in set_:
        key, eq, value = item.partition("=")
        if not eq:
            raise HwrBenchError(f"--set {item!r}: expected KEY=VALUE")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    cfg = load_train_config(config, overrides)
    extra = [load_dataset(p) for p in extra_train]
    ds = load_or_build_dataset(dataset, quiet)
    out_console = console()
    with tracker(quiet) as progress:
        model = run_training(ds, out, cfg, default_cache_dir(), extra_train=extra, tracker=progress,
                             log=out_console.print)
    if model.finished:
        out_console.print(f"trained model in {out / 'final'}")
    else:   # stopped by max_seconds: training logged where, and how to resume; no final/ yet
        out_console.print(f"no {out / 'final'} yet: the run is not finished ({cfg.steps} steps)")


def ablate(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="Folder of the ablation runs (resumable).")] = Path("runs/ablate"),
    steps: Annotated[int, typer.Option("--steps", min=10, help="Training steps per variant (the reduced budget).")]
    = 300,
    variants: Annotated[Optional[str], typer.Option("--variants", help="Comma-separated variants "
                                                    "(ourmodel/ablation.py; default: all).")] = None,
    protocols: ProtocolsOpt = "id,ood,xling",
    limit: LimitOpt = 300,
    bootstrap: BootstrapOpt = DEFAULT_BOOTSTRAP,
    results_dir: ResultsDirOpt = Path("results"),
    dataset: DatasetOpt = None,
    allow_dirty: AllowDirtyOpt = False,
    quiet: QuietOpt = False,
):
    """The paper's Table 5 at a reduced budget: train each variant with one learning signal
    switched off, evaluate it as ours-ablate:NAME; results join the leaderboard's ablation rows."""
    from ourmodel.ablation import ABLATIONS, train_ablations

    check_committed_code(results_dir, allow_dirty)   # before minutes of training, not after
    names = split(variants) if variants else list(ABLATIONS)
    unknown = [n for n in names if n not in ABLATIONS]
    if unknown:
        raise HwrBenchError(f"--variants: unknown variant {unknown[0]!r} (known: {', '.join(ABLATIONS)})")
    protocol_list = protocol_names(protocols)
    out_console = console()
    ds = load_or_build_dataset(dataset, quiet)
    out_console.print(f"Ablations at a reduced budget: {steps} steps each, {ds.name} train split only, "
                      f"evaluated on {','.join(protocol_list)} with at most {limit} queries per subtask.")
    checkpoints = train_ablations(ds, out, default_cache_dir(), steps, names, log=out_console.print)
    methods = [f"ours-ablate:{n}" for n in names]
    reporter = outcome_reporter(out_console)
    try:
        outcomes = harness(ctx).run(ds, methods=methods, protocols=protocol_list, results_dir=results_dir,
                                    limit=limit, n_boot=bootstrap, allow_dirty=allow_dirty, report=reporter,
                                    method_options={m: {"checkpoint": str(checkpoints[n])}
                                                    for m, n in zip(methods, names)})
    finally:
        reporter.flush()
    finish(outcomes)


def curves(
    runs: Annotated[list[Path], typer.Argument(help="Training run folders (or their curve.jsonl files).")],
    out: Annotated[Path, typer.Option("--out", help="The PNG to write.")] = Path("ourmodel/runs/curves.png"),
    x: Annotated[CurveAxis, typer.Option("--x", help="The x axis.")] = CurveAxis.STEP,
):
    """Plot learning curves of training runs side by side (validation Acc@1 against training steps)."""
    from ourmodel.curves import plot_curves

    files = {(r.parent.name if r.is_file() else r.name): (r if r.is_file() else r / "curve.jsonl") for r in runs}
    for path in files.values():
        if not path.is_file():
            raise HwrBenchError(f"{path}: no such file; pass a training run folder (`bench train --out DIR` "
                                "writes DIR/curve.jsonl) or its curve.jsonl")
    plot_curves(files, out, x=x.value)
    console().print(f"wrote {out}")


def quantize(
    out: Annotated[Path, typer.Option("--out", help="Folder for the int8 backbone (e.g. "
                                      "ourmodel/checkpoints/ours-int8).")],
    checkpoint: Annotated[Optional[Path], typer.Option("--checkpoint", help="The checkpoint whose backbone to "
                                                       "quantise (default: the shipped ours).")] = None,
    dataset: DatasetOpt = None,
):
    """Quantise the backbone a checkpoint's head reads to int8 (static, calibrated on training images)."""
    from ourmodel.ppocr import backbone
    from ourmodel.quantize import default_checkpoint_dir, write_int8_backbone

    config_file = (checkpoint or default_checkpoint_dir()) / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as e:
        raise HwrBenchError(f"{config_file}: not a readable checkpoint config ({e})") from None
    path = write_int8_backbone(load_dataset(dataset or default_dataset_path()), out,
                               backbone(config.get("source", "ppocrv4-features")), config.get("alphabet", ""))
    console().print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("ablate")(ablate)
    app.command("curves")(curves)
    app.command("quantize")(quantize)
