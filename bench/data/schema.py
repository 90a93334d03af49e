"""Typed records shared by every part of the harness."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

LANGUAGES: tuple[str, ...] = ("en", "zh", "es")
SPLITS: tuple[str, ...] = ("train", "test_id", "test_ood")
# The paper's six cross-lingual directions (query image language -> lexicon language).
XLING_DIRECTIONS: tuple[tuple[str, str], ...] = (
    ("en", "zh"), ("zh", "en"), ("zh", "es"), ("es", "zh"), ("es", "en"), ("en", "es"),
)

SAMPLE_COLUMNS: tuple[str, ...] = ("key", "image", "text", "semantic_id", "lang", "style", "split")
LEXICON_COLUMNS: tuple[str, ...] = ("semantic_id", "lang", "text")


@dataclass(frozen=True)
class Sample:
    """One handwritten word image and its labels (the image itself lives in the dataset)."""

    key: str
    text: str
    semantic_id: int
    lang: str
    style: str
    split: str
    content_hash: str  # sha256 of the encoded image bytes


@dataclass(frozen=True)
class LexiconEntry:
    semantic_id: int
    lang: str
    text: str

    @property
    def key(self) -> str:
        return lexicon_key(self.lang, self.semantic_id)


def lexicon_key(lang: str, semantic_id: int) -> str:
    return f"{lang}:{semantic_id}"


@dataclass(frozen=True)
class ImageItem:
    """What a method is handed for one image query: the decoded image and its identity."""

    key: str
    image: "Image.Image"
    lang: str
    content_hash: str = field(repr=False)
