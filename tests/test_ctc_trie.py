"""The trie scorer against ``ctc_log_likelihoods``, the per-word CTC scorer it must reproduce."""

import numpy as np
import pytest

import methodkit.ctc_trie as ctc_trie
from methodkit.ctc_lexicon import IMPOSSIBLE, LexiconScorer, compile_lexicon, ctc_log_likelihoods
from methodkit.ctc_trie import (SHORTLIST_OFFSET, TrieLexiconScorer, build_trie, count_distances,
                               rescored_shortlist, shortlist_log_likelihoods, trie_log_likelihoods)

CHARSET = ["<blank>", "a", "b", "A", " ", "n"]
WORDS = [
    "ab", "abab", "aba", "a", "b", "ba", "ab",            # shared prefixes, a prefix that is a word, a duplicate
    "Ab", "AB", "aB",                                      # case variants: one word to the scorer
    "a b", " a", "a ", " ", "b  b",                        # spaces inside and at either end
    "x", "ax", "xx", "xbx", "ñ", "ñab", "año", "añob",     # unknown characters, an accent with a base letter
    "aa", "aaa", "aaaa", "bb", "abba",                     # repeats (a blank between) up to too long
    "abababababab", "aaaaaaaaaaaaaaaaaaaa",                # too long for few frames
]


def _random(seed, n_images, n_frames, n_classes=len(CHARSET)):
    return np.random.default_rng(seed).dirichlet(np.ones(n_classes), size=(n_images, n_frames))


def _assert_same(got, want):
    np.testing.assert_array_equal(got == IMPOSSIBLE, want == IMPOSSIBLE)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=0)


@pytest.mark.parametrize("n_frames", [1, 2, 3, 5, 8, 13])
def test_trie_scores_equal_the_per_word_scores(n_frames):
    probs = _random(n_frames, 3, n_frames)
    lexicon = compile_lexicon(WORDS, CHARSET)
    want = ctc_log_likelihoods(probs, lexicon)
    _assert_same(trie_log_likelihoods(probs, lexicon), want)
    _assert_same(trie_log_likelihoods(probs, build_trie(lexicon)), want)
    if n_frames <= 3:
        assert (want == IMPOSSIBLE).any() and (want > IMPOSSIBLE).any()


@pytest.mark.parametrize("charset, blank, words", [
    # the blank last and the space class first
    ([" ", "a", "b", "A", "<blank>"], 4, ["x", "ab", "xa", "a b", "a", " ", "ba "]),
    # no space class: a space in a word is an unknown character, the edge-space states emit the floor
    (["<blank>", "a", "b"], 0, ["a b", "x", "ab", "b", "a", " b"]),
    # one letter only
    (["<blank>", "a", " "], 0, ["x", "a", "xa", "x ", "aa"]),
])
def test_other_layouts_and_charsets(charset, blank, words):
    probs = _random(len(charset) + blank, 2, 6, len(charset))
    lexicon = compile_lexicon(words, charset, blank=blank)
    _assert_same(trie_log_likelihoods(probs, lexicon, blank), ctc_log_likelihoods(probs, lexicon, blank))


def _random_words(seed, n, alphabet="abAB ñxn", longest=12):
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(alphabet), size=rng.integers(1, longest + 1))) for _ in range(n)]


def test_a_larger_lexicon_in_small_chunks(monkeypatch):
    # exact recursion: node chunks of 7 and image chunks of 2 cut through every depth;
    # fast kernel: image chunks of 2, and the scores do not depend on them to the last bit
    words = _random_words(0, 400) + WORDS
    probs = _random(4, 5, 20)
    lexicon = compile_lexicon(words, CHARSET)
    trie = build_trie(lexicon)
    assert trie.n_nodes < sum(len(w) for w in words)
    whole = trie_log_likelihoods(probs, trie)
    monkeypatch.setattr(ctc_trie, "_CHUNK", 7)
    monkeypatch.setattr(ctc_trie, "_PAIRS", 200)
    monkeypatch.setattr(ctc_trie, "_FAST_IMAGES", 2)
    monkeypatch.setattr(ctc_trie, "onnx_threads", lambda: 3)  # the threaded path, on any machine
    chunked = trie_log_likelihoods(probs, trie)
    np.testing.assert_array_equal(chunked, whole)
    np.testing.assert_array_equal(trie_log_likelihoods(probs[3], trie), whole[3])
    _assert_same(chunked, ctc_log_likelihoods(probs, lexicon))
    monkeypatch.setattr(ctc_trie, "_TINY", np.inf)          # every word rescored exactly, in chunks
    _assert_same(trie_log_likelihoods(probs, trie), ctc_log_likelihoods(probs, lexicon))


def test_the_preorder_visits_each_node_after_its_parent_and_before_its_parents_next_sibling():
    trie = build_trie(compile_lexicon(_random_words(4, 200) + WORDS, CHARSET))
    order = trie.preorder
    assert len(order.depth) == sum(len(d.parent) for d in trie.depths)
    assert order.depth[0] == 1 and (np.diff(order.depth) <= 1).all()        # down one level at a time
    # the parent of each node is the last node visited one level up: rebuild the (depth, label)
    # paths from the preorder and compare them with the paths of the breadth-first depths
    paths, held = [], {0: ()}
    for depth, label in zip(order.depth, order.label):
        held[depth] = held[depth - 1] + (int(label),)
        paths.append(held[depth])
    want, level = [], [()]
    for d in trie.depths:
        level = [level[p] + (int(lab),) for p, lab in zip(d.parent, d.label)]
        want += level
    assert sorted(paths) == sorted(want)
    # each word's end row is the row of the trailing-space node below the word's own path
    assert sorted(order.end[order.end >= 0].tolist()) == list(range(order.n_ends))
    row_of = {path[:-1]: int(end) for path, end in zip(paths, order.end) if end >= 0}
    labels, lengths = ctc_trie.word_labels(trie.lexicon)
    assert [row_of[tuple(labels[w, :n].tolist())] for w, n in enumerate(lengths)] == order.word_end.tolist()


def _count_exact_calls(monkeypatch):
    calls = []
    original = ctc_trie._extend_exact

    def counted(*args):
        calls.append(args[4] - args[3])
        return original(*args)
    monkeypatch.setattr(ctc_trie, "_extend_exact", counted)
    return calls


def test_the_fast_recursion_alone_on_ordinary_posteriors(monkeypatch):
    calls = _count_exact_calls(monkeypatch)
    probs = _random(5, 3, 10)
    lexicon = compile_lexicon([w for w in WORDS if len(w) <= 4], CHARSET)     # every word fits
    _assert_same(trie_log_likelihoods(probs, lexicon), ctc_log_likelihoods(probs, lexicon))
    assert not calls


def test_the_exact_recursion_alone(monkeypatch):
    calls = _count_exact_calls(monkeypatch)
    monkeypatch.setattr(ctc_trie, "_TINY", np.inf)          # every word rescored exactly
    words = _random_words(1, 150) + WORDS
    probs = _random(6, 3, 16)
    lexicon = compile_lexicon(words, CHARSET)
    _assert_same(trie_log_likelihoods(probs, lexicon), ctc_log_likelihoods(probs, lexicon))
    assert calls


def test_peaked_posteriors_hand_unlikely_words_to_the_exact_recursion(monkeypatch):
    # One-hot frames: every other class is at the emission floor (1e-30), so a word that disagrees
    # with many frames is far below 1e-250 of the best reading and must not come from the fast path.
    calls = _count_exact_calls(monkeypatch)
    eye = np.eye(len(CHARSET))
    rng = np.random.default_rng(7)
    probs = eye[rng.integers(0, len(CHARSET), size=(3, 30))]
    probs[0] = eye[[1, 0, 2] + [0] * 27]                     # image 0 spells "ab"
    words = WORDS + _random_words(2, 100)
    lexicon = compile_lexicon(words, CHARSET)
    want = ctc_log_likelihoods(probs, lexicon)
    got = trie_log_likelihoods(probs, lexicon)
    _assert_same(got, want)
    assert calls and want.min() < -1000
    assert (got > -100).any()                                # and likely words did take the fast path


def test_one_image_two_dimensional_input_and_float32():
    probs = _random(8, 1, 7)
    lexicon = compile_lexicon(WORDS, CHARSET)
    want = ctc_log_likelihoods(probs, lexicon)[0]
    single = trie_log_likelihoods(probs[0], lexicon)
    assert single.shape == (len(WORDS),)
    _assert_same(single, want)
    as32 = probs.astype(np.float32)
    np.testing.assert_array_equal(trie_log_likelihoods(as32, lexicon),
                                  trie_log_likelihoods(as32.astype(np.float64), lexicon))


def test_an_empty_word_list_and_no_images():
    lexicon = compile_lexicon([], CHARSET)
    probs = _random(9, 2, 4)
    assert trie_log_likelihoods(probs, lexicon).shape == (2, 0) == ctc_log_likelihoods(probs, lexicon).shape
    assert trie_log_likelihoods(probs[0], lexicon).shape == (0,)
    full = compile_lexicon(WORDS, CHARSET)
    assert trie_log_likelihoods(np.zeros((0, 4, len(CHARSET))), full).shape == (0, len(WORDS))
    with pytest.raises(ValueError):
        build_trie(compile_lexicon(["a", ""], CHARSET))


def test_trie_shape_shares_prefixes_and_merges_case_and_duplicates():
    trie = build_trie(compile_lexicon(["ab", "abc", "abd", "Ab", "ab", "b"], ["<blank>", "a", "b", "c", "d"]))
    assert trie.n_nodes == 5                                  # a, ab, abc, abd, b
    assert [d.n_real for d in trie.depths] == [2, 1, 2, 0]
    assert trie.words == ("ab", "abc", "abd", "Ab", "ab", "b")
    ends = trie.depths[2]                                     # words of two labels end here
    assert sorted(ends.word_index.tolist()) == [0, 3, 4] and len(set(ends.word_end.tolist())) == 1


def test_a_subset_trie_scores_its_words_in_order():
    lexicon = compile_lexicon(WORDS, CHARSET)
    subset = np.array([5, 0, 17, 6, 28])
    trie = build_trie(lexicon, subset)
    assert trie.words == tuple(WORDS[i] for i in subset) and trie.n_words == 5
    probs = _random(10, 2, 9)
    _assert_same(trie_log_likelihoods(probs, trie), ctc_log_likelihoods(probs, lexicon)[:, subset])


def test_the_scorer_matches_lexicon_scorer_bit_for_bit():
    rng = np.random.default_rng(11)
    posteriors = [rng.dirichlet(np.ones(len(CHARSET)), size=n) for n in (6, 9, 6, 3, 9)]
    lexicons = {"en": WORDS, "es": ["año", "niño", "a"], "none": []}
    want = LexiconScorer(CHARSET).score(posteriors, lexicons)
    scorer = TrieLexiconScorer(CHARSET)
    got = scorer.score(posteriors, lexicons)
    assert got.keys() == want.keys()
    for lang in want:
        assert got[lang].dtype == np.float32
        np.testing.assert_array_equal(got[lang], want[lang])
    compiled = scorer.compiled(["año", "x"])
    assert compiled is scorer.compiled(("año", "x"))
    assert compiled.words == ("año", "x") and compiled.substitutions == {"ñ": "n", "o": "<unknown>", "x": "<unknown>"}


# -- the shortlist (approximate, opt-in) -------------------------------------------------------------

def test_a_shortlist_as_long_as_the_lexicon_is_exact():
    probs = _random(12, 3, 8)
    lexicon = compile_lexicon(WORDS, CHARSET)
    want = ctc_log_likelihoods(probs, lexicon)
    for k in (len(WORDS), len(WORDS) + 5):
        _assert_same(shortlist_log_likelihoods(probs, lexicon, k), want)
        _assert_same(trie_log_likelihoods(probs, lexicon, shortlist=k), want)
    scorer = TrieLexiconScorer(CHARSET, shortlist=len(WORDS))
    np.testing.assert_array_equal(scorer.score(list(probs), {"en": WORDS})["en"], want.astype(np.float32))


def test_a_short_shortlist_scores_its_top_words_exactly_and_ranks_the_rest_below():
    words = _random_words(3, 60, alphabet="abn", longest=6) + ["ab"]
    eye = np.eye(len(CHARSET))
    probs = (0.9 * eye[[1, 1, 0, 2, 0, 0]] + 0.1 / len(CHARSET))[None]      # the frames spell "ab"
    lexicon = compile_lexicon(words, CHARSET)
    exact = ctc_log_likelihoods(probs, lexicon)[0]
    got = shortlist_log_likelihoods(probs[0], lexicon, 5)
    distance = count_distances(probs, lexicon)[0]
    top = np.argsort(distance, kind="stable")[:5]
    chosen = got > SHORTLIST_OFFSET
    assert chosen.sum() == 5 and set(np.flatnonzero(chosen)) == set(top)
    _assert_same(got[chosen], exact[chosen])
    assert got[~chosen].max() < got[chosen].min()
    np.testing.assert_allclose(got[~chosen], SHORTLIST_OFFSET - distance[~chosen])
    assert words[int(np.argmax(got))] == "ab" == words[int(np.argmax(exact))]
    assert (shortlist_log_likelihoods(probs, lexicon, 0) <= SHORTLIST_OFFSET).all()


def test_any_prior_can_choose_the_shortlist_and_orders_the_words_left_out():
    # The re-ranked hybrid (ours+rerank) shortlists by an embedding's cosine, not by counts.
    words = _random_words(4, 40, alphabet="abn", longest=5) + ["ab"]
    probs = _random(21, 3, 12)
    lexicon = compile_lexicon(words, CHARSET)
    exact = ctc_log_likelihoods(probs, lexicon)
    prior = np.random.default_rng(5).uniform(-1, 1, (3, len(words)))
    got = rescored_shortlist(probs, lexicon, prior, 6)
    for i in range(3):
        top = set(np.argsort(-prior[i])[:6])
        chosen = got[i] > SHORTLIST_OFFSET + 1
        assert set(np.flatnonzero(chosen)) == top
        _assert_same(got[i][chosen], exact[i][chosen])
        np.testing.assert_allclose(got[i][~chosen], SHORTLIST_OFFSET + prior[i][~chosen])
        left_out = np.flatnonzero(~chosen)
        assert list(left_out[np.argsort(-got[i][left_out])]) == list(left_out[np.argsort(-prior[i][left_out])])
    _assert_same(rescored_shortlist(probs, lexicon, prior, len(words)), exact)
    np.testing.assert_allclose(rescored_shortlist(probs, lexicon, prior, 0), SHORTLIST_OFFSET + prior)
    # a second ranking's candidates join each image's shortlist: scored exactly, duplicates or not
    candidates = np.array([[0, 1], [2, 2], [len(words) - 1, 0]])
    got = rescored_shortlist(probs, lexicon, prior, 2, candidates=candidates)
    for i in range(3):
        chosen = set(np.argsort(-prior[i])[:2]) | set(candidates[i])
        assert set(np.flatnonzero(got[i] > SHORTLIST_OFFSET + 1)) == chosen
        _assert_same(got[i][sorted(chosen)], exact[i][sorted(chosen)])
    _assert_same(rescored_shortlist(probs, lexicon, prior, 0, candidates=candidates)[:, [0, 1]][0], exact[0, [0, 1]])


def test_count_distances_count_each_group_once_per_occurrence():
    # frames spelling "aab" (a blank between the a's): expected counts a=2, b=1
    eye = np.eye(4)
    probs = eye[[1, 0, 1, 2, 0]][None]
    lexicon = compile_lexicon(["aab", "ab", "aabb", "b"], ["<blank>", "a", "b", " "])
    np.testing.assert_allclose(count_distances(probs, lexicon)[0], [0, 1, 1, 2], atol=1e-12)


def test_a_list_of_posteriors_scores_as_the_stacked_array_does():
    # Grouped image by image (never stacked whole), a list gives the very same scores.
    probs = _random(8, 4, 9)
    lexicon = build_trie(compile_lexicon(WORDS, CHARSET))
    np.testing.assert_array_equal(trie_log_likelihoods(list(probs), lexicon), trie_log_likelihoods(probs, lexicon))
    prior = np.random.default_rng(2).uniform(-1, 1, (4, len(WORDS)))
    np.testing.assert_array_equal(rescored_shortlist(list(probs), lexicon, prior, 3),
                                  rescored_shortlist(probs, lexicon, prior, 3))


def test_top_k_picks_each_rows_largest_and_keeps_the_earlier_column_of_a_tie():
    from methodkit.topk import top_k

    rng = np.random.default_rng(7)
    scores = rng.integers(0, 6, (20, 100)).astype(np.float32)    # many ties; k > 64 partitions
    for k in (1, 3, 50, 64, 65, 80, 100, 120):
        got = top_k(scores, k)
        assert got.shape == (20, min(k, 100))
        for row, picked in zip(scores, got):
            assert set(picked) == set(np.argsort(-row, kind="stable")[:min(k, 100)])
    assert top_k(scores, 0).shape == (20, 0)
