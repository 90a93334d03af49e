"""The one text-comparison policy used by metrics and edit-similarity ranking.

Every result records TEXT_POLICY so that numbers computed under a different
policy are never compared silently.
"""

from __future__ import annotations

import unicodedata

TEXT_POLICY = {"unicode": "NFC", "case": "casefold", "whitespace": "strip+collapse"}


def normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    return " ".join(text.split()).casefold()
