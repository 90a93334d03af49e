"""Wall time of the default suite against the time its networks need, on this machine.

* cold: `bench run` with every default method (those that run offline), every default protocol, the
  default benchmark built beforehand, an empty output cache and ``--overwrite always``: every
  network pass, transcript, score and embedding computed;
* floor: one forward pass of each distinct network over the images (and texts) those protocols
  need, timed here on the same machine after the cold run: each shared recogniser pass
  (``Retriever.shared_pass``: PP-OCRv4, PP-OCRv6), ours' head on PP-OCRv6's pass, each method
  with a network of its own (Tesseract per language pack, ours-int8), and the multilingual text
  encoder over every distinct text the run embeds (lexicons, distractor galleries, the
  ``+embed`` engines' transcripts). ``cold_over_floor`` is what the harness costs on top (issue
  #29: at most 1.3);
* warm, recompute (``--overwrite always`` on a copy of the results, caches full): ranking and
  metrics only; warm, up to date: a plain re-run; ``bench leaderboard`` on the results.

``--results-dir DIR`` writes the cold run's results there (the repository's ``results/`` when
regenerating them; `bench run` refuses uncommitted code for it); the warm runs use a copy.
Writes benchmarks/results/suite.json. Run: python benchmarks/suite.py [--results-dir results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"cold_over_floor": 1.3, "warm_recompute_s": 30, "warm_up_to_date_s": 30, "leaderboard_s": 2}


def _bench(*args, env, cwd) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"bench {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return round(seconds, 2)


def machine_and_commit() -> dict:
    """What this machine is and which commit runs, as suite.json records them (the docs' suite
    block compares another script's record with this one to say whether they ran alike)."""
    from bench.core.provenance import cpu_model, git_commit

    return {"machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "python": platform.python_version()},
            "commit": git_commit().get("commit")}


def _timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def _chunks(seq, size=128):
    return [seq[i:i + size] for i in range(0, len(seq), size)]


def floor(dataset_path: Path, cache: Path, methods: list[str], protocols: list[str]) -> dict:
    """Seconds of one forward pass of each distinct network the cold run ran (see the docstring)."""
    from adapters.rapidocr import PPOCR_V4, PPOCR_V6
    from bench.api import METHODS, EngineOutputs, Family, Group, load_dataset
    from bench.evaluation.protocols import RetrievalTask, get_protocol, restrict
    from methodkit import text_encoder
    from bench.core.passes import sharing_passes
    from methodkit.network_pass import PosteriorPass

    ds = load_dataset(dataset_path)
    specs = [get_protocol(p) for p in protocols]
    tasks = {spec.name: spec.task(ds) for spec in specs}   # gallery protocols add their distractors to ds
    loaded = {name: METHODS.create(name) for name in methods}
    loaded = {name: m for name, m in loaded.items() if m.availability().ok}

    def images_of(method) -> list[str]:
        """The images the cold run computed for ``method`` (what the runner's plan gives it)."""
        keys: set[str] = set()
        for spec in specs:
            task = tasks[spec.name]
            if spec.kind.needs_embeddings and method.family is not Family.EMBEDDING:
                continue
            if isinstance(task, RetrievalTask):
                task = restrict(task, method.answers)
            if task is not None:
                keys |= set(task.all_image_keys())
        return sorted(keys)

    seconds: dict[str, float] = {}
    # Shared recogniser passes, and ours' head on PP-OCRv6's (the pass's outputs held for it, as in a run).
    for model in (PPOCR_V4, PPOCR_V6):
        network = PosteriorPass(model, model.resize)
        readers = [m for m in loaded.values() if m.shared_pass == network.key]
        if not readers:
            continue
        keys = sorted(set().union(*(images_of(m) for m in readers)))
        ours = loaded.get("ours") if model is PPOCR_V6 and "ours" in [r.info.name for r in readers] else None
        head = pass_seconds = 0.0
        network.charset   # the session is loaded before the clock starts, as for the other networks
        for chunk in _chunks(keys):
            items = ds.image_items(chunk)
            with sharing_passes():   # the chunk's pass held for ours' head, as in a run
                pass_seconds += _timed(network, [it.image for it in items])
                if ours is not None:
                    ours._load()
                    head += _timed(ours.embed_images, items)
        seconds[f"{model.label} recogniser ({len(keys):,} images; read by "
                f"{', '.join(r.info.name for r in readers)})"] = pass_seconds
        if ours is not None:
            seconds["ours: head on the PP-OCRv6 pass"] = head
    # Methods with a network of their own (no shared pass, not built on an engine, not a reference).
    for name, method in loaded.items():
        if method.shared_pass or hasattr(method, "ocr") or method.info.group == Group.REFERENCE:
            continue
        keys = images_of(method)
        if not keys:
            continue
        first = ds.image_items(keys[:1])   # loads the model before the clock starts
        if method.family is Family.TRANSCRIPTION:
            method.transcribe(first, first[0].lang)
        elif method.family is Family.EMBEDDING:
            method.embed_images(first)
        if method.family is Family.TRANSCRIPTION:
            by_lang: dict[str, list[str]] = {}
            for k in keys:
                by_lang.setdefault(ds.sample(k).lang, []).append(k)
            seconds[f"{name} ({len(keys):,} images)"] = sum(
                _timed(method.transcribe, ds.image_items(chunk), lang)
                for lang, lang_keys in sorted(by_lang.items()) for chunk in _chunks(lang_keys, method.batch_size))
        elif method.family is Family.EMBEDDING:
            seconds[f"{name} ({len(keys):,} images)"] = sum(_timed(method.embed_images, ds.image_items(chunk))
                                                            for chunk in _chunks(keys, method.batch_size))
    # The text encoder over every distinct (language, text) the run embeds.
    texts = {(e.lang, e.text) for task in tasks.values() for st in getattr(task, "subtasks", ())
             for k in (st.gallery_keys if st.gallery_kind == "text" else st.query_keys if st.query_kind == "text" else ())
             for e in [ds.lexicon_entry(k)]}
    for method in loaded.values():
        if hasattr(method, "ocr") and method.family is Family.EMBEDDING:
            engine = EngineOutputs(method.ocr, cache)
            for chunk in _chunks(images_of(method), 512):
                items = ds.image_items(chunk)
                texts |= set(zip((it.lang for it in items), engine.transcripts(items)))
    text_encoder._token_count("warm")   # the encoder and its tokenizer loaded before the clock starts
    seconds[f"multilingual USE ({len(texts):,} distinct texts)"] = _timed(text_encoder._encode,
                                                                         [t for _, t in sorted(texts)])
    return {k: round(v, 2) for k, v in seconds.items()}


def main() -> None:
    from bench.api import DEFAULT, METHODS
    from bench.core.cache import default_dataset_path
    from bench.evaluation.protocols import default_protocols

    parser = argparse.ArgumentParser()
    parser.add_argument("--results-dir", type=Path, default=None,
                        help="where the cold run writes its results (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "suite.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="hwr-suite-"))
    cache = work / "cache"
    results = (args.results_dir or work / "results").resolve()
    dataset = default_dataset_path()
    env = {**os.environ, "HWR_BENCH_DATA": str(dataset)}
    methods, protocols = list(METHODS.tagged(DEFAULT)), list(default_protocols())
    seconds = {"cold": _bench("run", "--results-dir", str(results), "--cache-dir", str(cache), "--overwrite",
                              "always", "--quiet", env=env, cwd=ROOT)}
    warm = work / "warm-results"
    shutil.copytree(results, warm)
    common = ["--results-dir", str(warm), "--cache-dir", str(cache), "--quiet"]
    seconds["warm_recompute"] = _bench("run", *common, "--overwrite", "always", env=env, cwd=ROOT)
    seconds["warm_up_to_date"] = _bench("run", *common, env=env, cwd=ROOT)
    seconds["leaderboard"] = _bench("leaderboard", "--results-dir", str(warm), "--out", str(work / "leaderboard.md"),
                                    env=env, cwd=ROOT)
    networks = floor(dataset, cache, methods, protocols)
    floor_seconds = round(sum(networks.values()), 2)
    report = {
        "benchmark": "suite",
        "what": "wall seconds of `bench run` over every default method and protocol from empty caches, against the "
                "seconds of one forward pass of each distinct network over what the protocols need",
        **machine_and_commit(), "dataset": dataset.name,
        "methods": methods, "protocols": protocols,
        "seconds": seconds, "floor_seconds": floor_seconds, "floor_networks_seconds": networks,
        "cold_over_floor": round(seconds["cold"] / floor_seconds, 3),
        "targets": TARGETS,
        "met": {"cold_over_floor": seconds["cold"] / floor_seconds <= TARGETS["cold_over_floor"],
                "warm_recompute_s": seconds["warm_recompute"] <= TARGETS["warm_recompute_s"],
                "warm_up_to_date_s": seconds["warm_up_to_date"] <= TARGETS["warm_up_to_date_s"],
                "leaderboard_s": seconds["leaderboard"] <= TARGETS["leaderboard_s"]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(report, indent=2, ensure_ascii=False))
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
