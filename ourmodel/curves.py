"""Learning curves of several runs on one figure: what each learning-signal choice bought."""

from __future__ import annotations

import json
from pathlib import Path

METRICS = (("test_id_acc1", "in-domain Acc@1"), ("test_ood_acc1", "OOD Acc@1"),
           ("xling_acc1", "cross-lingual Acc@1 (avg of 6)"), ("text_xling_acc1", "text→text cross-lingual Acc@1"))


def read_curve(path: Path) -> list[dict]:
    """A run's ``curve.jsonl``: one JSON record per validation (``step``, ``images_seen``,
    ``seconds``, ``val``); a file that is not one is one error naming the file and line."""
    from bench.api import HwrBenchError

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise HwrBenchError(f"{path}: cannot read it ({exc})") from None
    records = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as exc:
            raise HwrBenchError(f"{path}: line {number}: not JSON ({exc}); not a curve `bench train` wrote") from None
        if not (isinstance(record, dict) and isinstance(record.get("val"), dict)
                and all(isinstance(record.get(k), (int, float)) for k in ("step", "images_seen", "seconds"))):
            raise HwrBenchError(f"{path}: line {number}: expected a record with step, images_seen, seconds and "
                                "val; not a curve `bench train` wrote")
        records.append(record)
    return records


def step_axis_label(curves: list[list[dict]]) -> str:
    """The step axis names the runs' batch size (images seen per step) only when they share one."""
    batches = {r["images_seen"] // r["step"] for curve in curves for r in curve if r.get("step") and "images_seen" in r}
    return f"training step (batch {batches.pop()})" if len(batches) == 1 else "training step"


def plot_curves(runs: dict[str, Path], out: Path, x: str = "step") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 3.6), sharex=True)
    curves = {label: read_curve(path) for label, path in sorted(runs.items())}
    for label, curve in curves.items():
        xs = [r[x] / (60 if x == "seconds" else 1) for r in curve]
        for ax, (key, _) in zip(axes, METRICS):
            ax.plot(xs, [r["val"].get(key, float("nan")) for r in curve], marker="o", ms=3, label=label)
    step_label = step_axis_label(list(curves.values()))
    for ax, (_, title) in zip(axes, METRICS):
        ax.set_title(title, fontsize=10)
        ax.set_xlabel({"seconds": "training minutes (2 CPU cores)", "step": step_label}.get(x, x))
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
