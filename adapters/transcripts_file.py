"""``transcripts:FILE``: transcripts made by any tool, scored like a built-in recogniser.

For systems that do not run inside this harness (research code pinned to an old torch, a paid
API, ABINet): run them elsewhere on the dataset's images and write one line per image,
``KEY<TAB>TRANSCRIPT`` (KEY as in the dataset's ``samples``; a first line ``key<TAB>text`` is a
header). The harness ranks the lexicon by normalised edit similarity, as for the paper's OCR rows.
An image the file does not cover is an error naming the file and the key, never a silent miss.
"""

from __future__ import annotations

from pathlib import Path

from bench.api import Availability, MethodInfo, MethodOutputError, TranscriptionRetriever, file_sha256


def read_transcripts(path: Path) -> dict[str, str]:
    """KEY -> TRANSCRIPT from a tab-separated file; a malformed line is an error naming it."""
    found: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or (number == 1 and line.split("\t")[:2] == ["key", "text"]):
            continue
        key, sep, text = line.partition("\t")
        if not sep or not key:
            raise MethodOutputError(f"{path}:{number}: expected KEY<TAB>TRANSCRIPT, got {line[:80]!r}")
        if key in found:
            raise MethodOutputError(f"{path}:{number}: key {key!r} appears twice")
        found[key] = text
    return found


class TranscriptsFile(TranscriptionRetriever):
    batch_size = 1024

    def __init__(self, spec=None, options=None):
        super().__init__(spec, options)
        if not spec:
            raise ValueError("transcripts needs a file, e.g. transcripts:abinet.tsv (KEY<TAB>TRANSCRIPT lines)")
        self.path = Path(spec).expanduser()
        self._texts: dict[str, str] | None = None

    def availability(self) -> Availability:
        if not self.path.is_file():
            return Availability.no(f"{self.path} does not exist",
                                   "write one KEY<TAB>TRANSCRIPT line per image there (see adapters/transcripts_file.py)")
        return Availability.yes()

    @property
    def info(self) -> MethodInfo:
        digest = file_sha256(self.path)[:16] if self.path.is_file() else "missing"
        return MethodInfo(name=f"transcripts:{self.spec}", group="two-stage", version=f"file@{digest}",
                          description=f"transcripts read from {self.path}; lexicon ranked by normalised edit "
                                      "similarity", licence="that of the tool that wrote them",
                          preprocessing="none here (done by the tool that wrote the file)",
                          config={"file": str(self.path)})

    def transcribe(self, items, lang: str) -> list[str]:
        if self._texts is None:
            self._texts = read_transcripts(self.path)
        missing = [it.key for it in items if it.key not in self._texts]
        if missing:
            raise MethodOutputError(f"{self.path} has no transcript for {len(missing)} image(s), e.g. {missing[0]!r}")
        return [self._texts[it.key] for it in items]
