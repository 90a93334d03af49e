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


class Recipe(str, Enum):
    OURS = "ours"      # the shipped ours: heads on a frozen recogniser's posteriors (ourmodel/train.py)
    PAPER = "paper"    # the paper's: MobileNetV3-Small from scratch + DistilBERT (ourmodel/paper/)


class Device(str, Enum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class CurveAxis(str, Enum):
    STEP = "step"
    IMAGES_SEEN = "images_seen"
    SECONDS = "seconds"        # wall time is confounded when runs share the CPU


def _overrides(set_: list[str]) -> dict:
    overrides = {}
    for item in set_:
        key, eq, value = item.partition("=")
        if not eq:
            raise HwrBenchError(f"--set {item!r}: expected KEY=VALUE")
        try:
            overrides[key] = json.loads(value)
        except json.JSONDecodeError:
            overrides[key] = value
    return overrides


def train(
    out: Annotated[Path, typer.Option("--out", help="Run folder: checkpoints, curve.jsonl; re-run to resume.")],
    config: Annotated[Optional[Path], typer.Option("--config", help="JSON file of training options "
                                                   "(ourmodel/train.py TrainConfig).")] = None,
    dataset: DatasetOpt = None,
    set_: Annotated[list[str], typer.Option("--set", help="Override an option, KEY=VALUE (JSON value), "
                                            "repeatable.")] = [],
    extra_train: Annotated[list[Path], typer.Option("--extra-train", help="Another dataset whose train split "
                                                    "joins (e.g. a second seed's renders).")] = [],
    recipe: Annotated[Recipe, typer.Option("--recipe", help="ours: the shipped model's recipe; paper: the "
                                           "paper's (MobileNetV3-Small from scratch, DistilBERT, two stages).")]
    = Recipe.OURS,
    device: Annotated[Device, typer.Option("--device", help="Paper recipe: where to train (auto: CUDA when "
                                           "torch sees one; bf16 autocast on CUDA).")] = Device.AUTO,
    pack: Annotated[Optional[Path], typer.Option("--pack", help="Paper recipe: a pack (`bench pack`) to "
                                                 "pre-train on instead of --dataset's train split.")] = None,
    finetune: Annotated[Optional[Path], typer.Option("--finetune", help="Paper recipe: stage 2's data, a pack or "
                                                     "a dataset (`hand`, an imported IAM/HWDB); default: stage "
                                                     "1's.")] = None,
    quiet: QuietOpt = False,
):
    """Train our dual encoder on a dataset's train split (resumable)."""
    overrides = _overrides(set_)
    if recipe is Recipe.PAPER:
        if config is not None or extra_train:
            raise HwrBenchError("--config and --extra-train belong to the ours recipe; the paper recipe takes "
                                "--set KEY=VALUE (ourmodel/paper/recipe.py), --pack and --finetune")
        return _train_paper(out, dataset, overrides, device.value, pack, finetune, quiet)
    if device is Device.CUDA:
        raise HwrBenchError("--device cuda: the ours recipe trains heads on cached CPU features; "
                            "--device is for --recipe paper")
    from ourmodel.training_run import load_train_config, run_training

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


def _pack_of(path: Optional[Path], split: str, recipe, quiet: bool):
    from ourmodel.paper.packed import PackError, load_pack
    from ourmodel.paper.run import cached_pack, is_pack

    try:
        if is_pack(path):
            return load_pack(path)
        return cached_pack(load_or_build_dataset(path, quiet), split, recipe, default_cache_dir(), log=console().print)
    except PackError as exc:   # the loader stays free of the harness: its errors become the CLI's here
        raise HwrBenchError(str(exc)) from None


def _train_paper(out: Path, dataset: Optional[Path], overrides: dict, device: str, pack: Optional[Path],
                 finetune: Optional[Path], quiet: bool) -> None:
    from ourmodel.distilbert import DistilBertUnavailable
    from ourmodel.paper.recipe import PAPER
    from ourmodel.paper.run import run_paper_training

    recipe = PAPER.with_overrides(overrides)
    pretrain = _pack_of(pack if pack is not None else dataset, "train", recipe, quiet)
    tuned = None if finetune is None else _pack_of(finetune, "train", recipe, quiet)
    val = None if pack is not None and dataset is None else _pack_of(dataset, "test_ood", recipe, quiet)
    try:
        final = run_paper_training(recipe, out, device, pretrain, tuned, val, log=console().print)
    except DistilBertUnavailable as exc:
        raise HwrBenchError(str(exc)) from None
    console().print(f"trained and exported to {final} (run it as ours-paper with "
                    f"--option ours-paper.checkpoint={final})")


def pack(
    out: Annotated[Path, typer.Option("--out", help="A new folder for the pack.")],
    dataset: DatasetOpt = None,
    split_: Annotated[str, typer.Option("--split", help="The split to pack.")] = "train",
    height: Annotated[int, typer.Option("--height", min=16, help="Image height in pixels.")] = 32,
    width: Annotated[int, typer.Option("--width", min=16, help="Image width in pixels (even).")] = 128,
    quiet: QuietOpt = False,
):
    """Write a split as compact arrays (4-bit grey images, labels, the lexicon and its anchors) that
    train the paper recipe anywhere torch runs; the loader needs numpy only (ourmodel/paper/packed.py)."""
    from ourmodel.paper.packed import PackError, write_pack

    ds = load_or_build_dataset(dataset, quiet)
    try:
        folder = write_pack(ds, split_, out, height, width, default_cache_dir())
    except (PackError, ValueError) as exc:
        raise HwrBenchError(str(exc)) from None
    size = sum(p.stat().st_size for p in folder.iterdir())
    console().print(f"wrote {folder} ({size / 2**20:.1f} MiB)")


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
    app.command("pack")(pack)
    app.command("ablate")(ablate)
    app.command("curves")(curves)
    app.command("quantize")(quantize)
