"""Tesseract 5 (LSTM) via ``pytesseract`` and the system ``tesseract`` binary.

One language pack per query script (en -> eng, es -> spa, zh -> chi_sim; ``tesseract-latn``
reads Spanish with the Latin-script model instead, option ``spanish``),
single-line page segmentation (``--psm 7``) on the word crop. Tesseract costs
a process per call, so a batch of crops goes to one process as a list file
(pages come back separated by form feeds), and batches run in parallel, one
single-threaded process per core.

Set-up (Debian/Ubuntu): ``apt-get install tesseract-ocr tesseract-ocr-chi-sim
tesseract-ocr-spa tesseract-ocr-script-latn``; ``$TESSERACT_CMD`` points at another binary.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from bench.api import Availability, MethodInfo, TranscriptionRetriever

LANGUAGE_PACKS = {"en": "eng", "es": "spa", "zh": "chi_sim"}
# Spanish can also be read with Debian's Latin-script model (tesseract-ocr-script-latn: Latin.traineddata).
APT_PACKAGES = "tesseract-ocr tesseract-ocr-chi-sim tesseract-ocr-spa tesseract-ocr-script-latn"
SPANISH_PACKS = ("spa", "Latin", "spa+Latin")


def _command() -> str:
    return os.environ.get("TESSERACT_CMD", "tesseract")


@functools.lru_cache(maxsize=4)
def _installation(command: str) -> tuple[str, Path | None, tuple[str, ...]] | None:
    """(version, tessdata folder, language packs), or None when the binary does not run."""
    try:
        version = subprocess.run([command, "--version"], capture_output=True, text=True, timeout=30)
        langs = subprocess.run([command, "--list-langs"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if version.returncode != 0:
        return None
    first = (version.stdout or version.stderr).splitlines()[0].strip()
    listing = (langs.stdout + langs.stderr).splitlines()
    folder = re.search(r'"(.+?)"', listing[0]) if listing else None
    packs = tuple(sorted(line.strip() for line in listing[1:] if line.strip()))
    return first, Path(folder.group(1)) if folder else None, packs


@functools.lru_cache(maxsize=4)
def _pack_digest(folder: Path | None, codes: tuple[str, ...]) -> tuple[str, int | None]:
    if folder is None:
        return "unknown", None
    h = hashlib.sha256()
    size = 0
    for code in codes:
        data = (folder / f"{code}.traineddata").read_bytes()
        h.update(data)
        size += len(data)
    return h.hexdigest()[:16], size


def _codes(packs: dict[str, str]) -> tuple[str, ...]:
    """Every traineddata a pack mapping uses ("spa+Latin" is two), sorted."""
    return tuple(sorted({c for code in packs.values() for c in code.split("+")}))


@dataclass(frozen=True)
class TesseractOptions:
    psm: int = 7                 # page segmentation mode; 7: a single text line
    workers: int | None = None   # parallel tesseract processes (None: one per CPU core)
    spanish: str = "spa"         # the pack for Spanish: spa, Latin (the Latin-script model) or spa+Latin

    def __post_init__(self):
        if self.spanish not in SPANISH_PACKS:
            raise ValueError(f"option spanish must be one of {', '.join(SPANISH_PACKS)}, not {self.spanish!r}")
        if not 0 <= self.psm <= 13:
            raise ValueError(f"option psm must be a tesseract page segmentation mode (0-13), not {self.psm}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"option workers must be at least 1, not {self.workers}")


class Tesseract(TranscriptionRetriever):
    name = "tesseract"
    scope = ""                   # which subtasks it answers, where not all (see ``answers``)
    Options = TesseractOptions
    batch_size = 64

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        self.psm = self.options.psm
        self.workers = self.options.workers or os.cpu_count() or 1
        self.packs = {**LANGUAGE_PACKS, "es": self.options.spanish}

    def availability(self) -> Availability:
        if importlib.util.find_spec("pytesseract") is None:
            return Availability.no("pytesseract is not installed", "pip install pytesseract")
        found = _installation(_command())
        if found is None:
            return Availability.no(f"the tesseract binary ({_command()}) does not run",
                                   f"apt-get install {APT_PACKAGES} (or set TESSERACT_CMD)")
        missing = sorted(set(_codes(self.packs)) - set(found[2]))
        if missing:
            return Availability.no(f"tesseract language data missing: {', '.join(missing)}"
                                   f" (looked in {found[1]})",
                                   f"apt-get install {APT_PACKAGES}, or put the .traineddata files "
                                   "there (or in $TESSDATA_PREFIX)")
        return Availability.yes()

    @property
    def info(self) -> MethodInfo:
        found = _installation(_command()) if self.availability().ok else None
        digest, size = _pack_digest(found[1], _codes(self.packs)) if found else ("missing", None)
        return MethodInfo(
            name=self.name, group="two-stage",
            version=f"{found[0] if found else 'missing'}/packs-{digest}",
            description=f"Tesseract LSTM, --psm {self.psm} on the word crop, language pack per "
                        "query script; lexicon ranked by normalised edit similarity",
            params=None, model_bytes=size, licence="Apache-2.0", requires=(f"apt: {APT_PACKAGES}", "pytesseract"),
            preprocessing="greyscale PNG as rendered",
            config={"psm": self.psm, "language_packs": self.packs, **({"scope": self.scope} if self.scope else {})})

    def transcribe(self, items, lang: str) -> list[str]:
        code = self.packs[lang]
        images = [it.image for it in items]
        n_chunks = max(1, min(self.workers, len(images)))
        bounds = [(i * len(images) // n_chunks, (i + 1) * len(images) // n_chunks) for i in range(n_chunks)]
        with ThreadPoolExecutor(n_chunks) as pool:
            parts = pool.map(lambda b: self._run_list(images[b[0]:b[1]], code), bounds)
        return [text for part in parts for text in part]

    def _run_list(self, images, code: str) -> list[str]:
        if not images:
            return []
        with tempfile.TemporaryDirectory(prefix="hwr-tess-") as tmp:
            paths = []
            for i, im in enumerate(images):
                path = Path(tmp) / f"{i:05d}.png"
                im.convert("L").save(path)
                paths.append(str(path))
            listing = Path(tmp) / "images.txt"
            listing.write_text("\n".join(paths) + "\n")
            env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
            done = subprocess.run([_command(), str(listing), "stdout", "-l", code, "--psm", str(self.psm)],
                                  capture_output=True, env=env, timeout=60 + 10 * len(images))
            pages = done.stdout.decode("utf-8", "replace").split("\f")
            if len(pages) == len(images) + 1 and not pages[-1].strip():
                pages = pages[:-1]   # a trailing form feed after the last page
            if done.returncode == 0 and len(pages) == len(images):
                return [p.strip() for p in pages]
            # Page count off (or the batch failed): one process per image, via pytesseract.
            import pytesseract

            pytesseract.pytesseract.tesseract_cmd = _command()
            return [pytesseract.image_to_string(im.convert("L"), lang=code,
                                                config=f"--psm {self.psm}").strip() for im in images]


@dataclass(frozen=True)
class TesseractLatinOptions(TesseractOptions):
    spanish: str = "Latin"


class TesseractLatin(Tesseract):
    """``tesseract-latn``: Spanish read with Tesseract's Latin-script model instead of ``spa``; it
    answers the Spanish subtasks only (in English and Chinese it is ``tesseract``)."""

    name = "tesseract-latn"
    scope = "Spanish subtasks only; elsewhere it is tesseract"
    Options = TesseractLatinOptions

    def answers(self, subtask) -> bool:
        return subtask.query_lang == "es" and subtask.gallery_lang == "es"
