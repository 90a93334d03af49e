"""CTC lexicon scoring against a brute-force sum over every frame alignment."""

import itertools

import numpy as np
import pytest

from adapters.ctc_lexicon import IMPOSSIBLE, compile_lexicon, ctc_log_likelihoods, greedy_decode

CHARSET = ["<blank>", "a", "b", "A", " ", "n"]


def _reading(path):
    """What a frame path reads as, with case variants merged (the scorer's definition)."""
    out, prev = [], None
    for c in path:
        symbol = CHARSET[c].lower() if c else None
        if symbol != prev and symbol is not None:
            out.append(symbol)
        prev = symbol
    return "".join(out)


def _brute_force(probs, word):
    target = word.lower().replace("ñ", "n")
    readings = {target, " " + target, target + " ", " " + target + " "}
    total = sum(np.prod([probs[t, c] for t, c in enumerate(path)])
                for path in itertools.product(range(len(CHARSET)), repeat=len(probs))
                if _reading(path) in readings)
    return np.log(total) if total > 0 else IMPOSSIBLE


@pytest.mark.parametrize("seed", [0, 1])
def test_scores_equal_the_sum_over_all_alignments(seed):
    probs = np.random.default_rng(seed).dirichlet(np.ones(len(CHARSET)), size=(2, 5))
    words = ["a", "ab", "ba", "aa", "ñ", "a b", "Ab", "abab"]
    got = ctc_log_likelihoods(probs, compile_lexicon(words, CHARSET))
    want = np.array([[_brute_force(p, w) for w in words] for p in probs])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_missing_characters_are_mapped_and_recorded():
    lexicon = compile_lexicon(["año", "xa"], CHARSET)
    assert lexicon.substitutions == {"ñ": "n", "o": "<unknown>", "x": "<unknown>"}


def test_unknown_character_is_a_probability_and_unfittable_words_are_impossible():
    probs = np.random.default_rng(2).dirichlet(np.ones(len(CHARSET)), size=(3, 4))
    scores = ctc_log_likelihoods(probs, compile_lexicon(["x", "abab", "aaaa"], CHARSET))
    assert (scores[:, 0] <= 1e-12).all()          # log p <= 0 with an unknown-character state
    assert (scores[:, 1] > IMPOSSIBLE).all()      # 4 labels fit in 4 frames
    assert (scores[:, 2] == IMPOSSIBLE).all()     # "aaaa" needs 7 frames (blanks between repeats)


def test_the_word_the_frames_spell_wins():
    eye = np.eye(len(CHARSET))
    frames = [eye[1], eye[1], eye[0], eye[2], eye[0], eye[0]]          # a a _ b _ _
    probs = 0.9 * np.stack(frames)[None] + 0.1 / len(CHARSET)
    words = ["ab", "ba", "a", "b", "abb", "x", "xx"]   # "x": not in the charset
    scores = ctc_log_likelihoods(probs, compile_lexicon(words, CHARSET))
    assert words[int(np.argmax(scores[0]))] == "ab"
    assert greedy_decode(probs, CHARSET) == ["ab"]
