"""CTC lexicon scoring against a brute-force sum over every frame alignment."""

import itertools
import unicodedata
import warnings

import numpy as np
import pytest

from methodkit.ctc_lexicon import (BLANK_GROUP, IMPOSSIBLE, SPACE_GROUP, UNKNOWN_GROUP, LexiconScorer, compile_lexicon,
                                  ctc_log_likelihoods, greedy_decode, group_posteriors)

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


# --- Exact likelihoods with unknown characters, spaces, other blank/space positions --------------

def _exact(probs, word, charset, blank=0):
    """log p(word) summed over every frame path, by enumeration. A frame emits one of the
    recogniser's classes or an "unknown character" class whose posterior is the mean of the
    non-blank, non-space classes (the documented stand-in for a character the recogniser lacks);
    case variants read as one letter, an accented letter missing from the set as its base letter,
    and the word may carry one optional space at either end when the recogniser has a space."""
    known = {c.lower() for i, c in enumerate(charset) if i != blank}
    has_space = " " in known

    def label(ch):
        if ch == " ":
            return " " if has_space else "?"
        if ch.lower() in known:
            return ch.lower()
        base = unicodedata.normalize("NFD", ch)[0].lower()
        return base if base in known else "?"

    target = "".join(label(c) for c in unicodedata.normalize("NFC", word))
    readings = {target, " " + target, target + " ", " " + target + " "} if has_space else {target}
    letters = [i for i, c in enumerate(charset) if i != blank and c != " "]
    columns = np.concatenate([probs, probs[:, letters].mean(axis=1, keepdims=True)], axis=1)
    symbols = [None if i == blank else c.lower() for i, c in enumerate(charset)] + ["?"]
    total = 0.0
    for path in itertools.product(range(len(symbols)), repeat=len(probs)):
        out, prev = [], None
        for c in path:
            if symbols[c] is not None and symbols[c] != prev:
                out.append(symbols[c])
            prev = symbols[c]
        if "".join(out) in readings:
            total += np.prod(columns[np.arange(len(path)), path])
    return np.log(total) if total > 0 else IMPOSSIBLE


@pytest.mark.parametrize("charset, blank, words", [
    # unknown characters, a word's own leading/trailing space (no alignment counted twice)
    (CHARSET, 0, ["x", "ax", "xx", "xbx", "a b", "a ", " a", "ñ"]),
    # the blank last and the space class first (a recogniser's layout need not be blank-first)
    ([" ", "a", "b", "A", "<blank>"], 4, ["x", "ab", "xa", "a b"]),
    # no space class: a space in a word is an unknown character
    (["<blank>", "a", "b"], 0, ["a b", "x", "ab", "b"]),
    # one letter only: the unknown character's posterior is that letter's
    (["<blank>", "a", " "], 0, ["x", "a", "xa", "x "]),
])
def test_unknown_characters_and_spaces_equal_the_sum_over_all_alignments(charset, blank, words):
    probs = np.random.default_rng(len(charset) + blank).dirichlet(np.ones(len(charset)), size=(2, 4))
    lexicon = compile_lexicon(words, charset, blank=blank)
    got = ctc_log_likelihoods(probs, lexicon) if blank == 0 else ctc_log_likelihoods(probs, lexicon, blank)
    want = np.array([[_exact(p, w, charset, blank) for w in words] for p in probs])
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_group_posteriors_merge_case_variants_and_average_for_the_unknown_character():
    probs = np.random.default_rng(3).dirichlet(np.ones(len(CHARSET)), size=(2, 3))
    lexicon = compile_lexicon(["ab", "x"], CHARSET)
    groups = group_posteriors(probs, lexicon)            # the blank is class 0 unless told
    row = {tuple(m[m >= 0]): g for g, m in enumerate(lexicon.members)}
    np.testing.assert_allclose(groups[..., BLANK_GROUP], probs[..., 0])
    np.testing.assert_allclose(groups[..., SPACE_GROUP], probs[..., 4])
    np.testing.assert_allclose(groups[..., UNKNOWN_GROUP], probs[..., [1, 2, 3, 5]].mean(axis=2))
    np.testing.assert_allclose(groups[..., row[(1, 3)]], probs[..., 1] + probs[..., 3])   # "a" or "A"
    np.testing.assert_allclose(groups[..., row[(2,)]], probs[..., 2])


def test_float32_posteriors_score_exactly_as_their_float64_values():
    # A recogniser's network hands over float32; the scorer computes in float64 throughout.
    probs = np.random.default_rng(4).dirichlet(np.ones(len(CHARSET)), size=(3, 6)).astype(np.float32)
    lexicon = compile_lexicon(["x", "ax", "ab", "xbx"], CHARSET)
    np.testing.assert_array_equal(ctc_log_likelihoods(probs, lexicon),
                                  ctc_log_likelihoods(probs.astype(np.float64), lexicon))


def test_the_group_table_lists_each_groups_classes_padded_with_minus_one():
    lexicon = compile_lexicon(["ab", "bz", "b"], ["<blank>", "a", "b", " "])
    # blank, space, unknown, then the letters in order of first use; no case pairs, so one column.
    np.testing.assert_array_equal(lexicon.members, [[0], [3], [-1], [1], [2]])
    assert lexicon.members.dtype == np.int64
    cased = compile_lexicon(["Ab"], CHARSET)
    np.testing.assert_array_equal(cased.members, [[0, -1], [4, -1], [-1, -1], [1, 3], [2, -1]])


def test_an_empty_lexicon_word_is_refused_by_its_position():
    with pytest.raises(ValueError, match=r"^lexicon word 1 is empty$"):
        compile_lexicon(["ab", "", "b"], CHARSET)


def test_a_word_the_frames_rule_out_keeps_its_exact_finite_score():
    # Frames that read "a" with certainty: "b" has only floored (1e-30) emissions, far below
    # float64's range after 40 frames. Each word is rescaled on its own, so its log-likelihood stays
    # exact: every alignment of "b" has the same product, so log p = T log(1e-30) + log(#alignments),
    # and #alignments is what a uniform posterior over {blank, space, b} counts.
    n_frames = 40
    certain = np.zeros((1, n_frames, len(CHARSET)))
    certain[..., 1] = 1.0
    uniform = np.zeros((1, n_frames, len(CHARSET)))
    uniform[..., [0, 2, 4]] = 1.0 / 3
    lexicon = compile_lexicon(["a", "b"], CHARSET)
    scores = ctc_log_likelihoods(certain, lexicon)[0]
    log_alignments = ctc_log_likelihoods(uniform, compile_lexicon(["b"], CHARSET))[0, 0] + n_frames * np.log(3)
    assert scores[0] == pytest.approx(0.0, abs=1e-12)
    assert scores[1] == pytest.approx(n_frames * np.log(1e-30) + log_alignments, rel=1e-12)
    assert IMPOSSIBLE < scores[1] < scores[0]


def test_unfittable_words_score_impossible_without_a_warning():
    probs = np.random.default_rng(5).dirichlet(np.ones(len(CHARSET)), size=(2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scores = ctc_log_likelihoods(probs, compile_lexicon(["abab", "a"], CHARSET))
    assert (scores[:, 0] == IMPOSSIBLE).all() and (scores[:, 1] > IMPOSSIBLE).all()


def test_greedy_decoding_merges_repeats_anywhere_in_the_line():
    eye = np.eye(len(CHARSET))
    probs = np.stack([eye[[0, 1, 1, 2, 2, 0, 2]], eye[[4, 2, 0, 2, 5, 5, 4]]])   # _ a a b b _ b / " b _ b n n "
    assert greedy_decode(probs, CHARSET) == ["abb", "bbn"]


# --- LexiconScorer: what the CTC adapters call ----------------------------------------------------

def test_scorer_scores_images_of_any_frame_count_exactly_and_compiles_each_list_once(monkeypatch):
    import methodkit.ctc_lexicon as ctc_lexicon

    compiled = []
    real = ctc_lexicon.compile_lexicon

    def counting(words, *args, **kwargs):
        compiled.append(words)
        return real(words, *args, **kwargs)

    monkeypatch.setattr(ctc_lexicon, "compile_lexicon", counting)
    charset, blank = ["a", "b", " ", "<blank>"], 3          # the blank last, as some recognisers put it
    rng = np.random.default_rng(6)
    posteriors = [rng.dirichlet(np.ones(len(charset)), size=t).astype(np.float32) for t in (3, 4, 3, 2)]
    lexicons = {"en": ["ab", "x", "a b"], "es": ["ba", "b"]}
    scorer = LexiconScorer(charset, blank=blank)
    out = scorer.score(posteriors, lexicons)
    assert set(out) == {"en", "es"}
    for lang, words in lexicons.items():
        want = np.array([[_exact(p.astype(np.float64), w, charset, blank) for w in words] for p in posteriors])
        np.testing.assert_allclose(out[lang], want, rtol=1e-6)
    # Each word list is compiled once, whatever the frame counts and however often it is scored.
    again = scorer.score(posteriors[1:3], {"en": tuple(lexicons["en"])})
    np.testing.assert_allclose(again["en"], out["en"][1:3], rtol=1e-6)
    assert sorted(compiled) == [("ab", "x", "a b"), ("ba", "b")]
    assert scorer.compiled(["ba", "b"]) is scorer.compiled(("ba", "b"))


def test_scorer_blank_is_class_zero_unless_told():
    probs = np.random.default_rng(7).dirichlet(np.ones(len(CHARSET)), size=3)
    words = ["ab", "x", "Ab"]
    out = LexiconScorer(CHARSET).score([probs], {"en": words})["en"][0]
    np.testing.assert_allclose(out, [_exact(probs, w, CHARSET) for w in words], rtol=1e-6)
    assert LexiconScorer(CHARSET).score([], {"en": words})["en"].shape == (0, 3)
