"""Paper rows that no maintained package runs. They are listed, never silently missing, and say why
and how to score the system anyway: run it elsewhere and hand its transcripts to
``transcripts:FILE`` (``adapters.transcripts_file``).
"""

from __future__ import annotations

from bench.api import Availability, MethodInfo, TranscriptionRetriever


class ABINet(TranscriptionRetriever):
    REASON = ("no maintained package runs ABINet: MMOCR 1.0.1, its last release (2023), needs mmcv 2.0 with no "
              "wheels for current torch, and the authors' FangShancheng/ABINet is research code for torch 1.x")
    FIX = ("run ABINet in its own environment (MMOCR 1.0.1, torch 1.13, mmcv 2.0.1) on the dataset's images, "
           "write KEY<TAB>TRANSCRIPT lines, and score them with `bench run --methods transcripts:FILE`")

    def availability(self) -> Availability:
        return Availability.no(self.REASON, self.FIX)

    @property
    def info(self) -> MethodInfo:
        return MethodInfo(name="abinet", group="two-stage", version="unmaintained",
                          description="ABINet (Fang et al. 2021): listed for the paper's table; runs through "
                                      "transcripts:FILE", licence="see the authors' repository",
                          requires=("an environment of its own (no maintained package)",))

    def transcribe(self, items, lang: str) -> list[str]:
        raise RuntimeError(self.REASON)
