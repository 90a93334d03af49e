"""Generation 3's pyramids of character presence (ourmodel/pyramid.py) and the tower reading them."""

import numpy as np
import pytest

from ourmodel.ppocr import LOG_FLOOR
from ourmodel.pyramid import Pyramid, bernoulli_log_odds, frame_positions, sparse_word_scores

ALPHABET = "abcdé"


def _inputs(frames: list[str], alphabet: str = ALPHABET, confidence: float = 0.98) -> np.ndarray:
    """Head inputs log(p + LOG_FLOOR) over (blank, space, alphabet) for frames that each emit one
    symbol ("-" blank) with ``confidence``, the rest spread over the other groups."""
    groups = ["-", " ", *alphabet]
    p = np.full((len(frames), len(groups)), (1 - confidence) / (len(groups) - 1))
    for t, symbol in enumerate(frames):
        p[t, groups.index(symbol)] = confidence
    return np.log(p + LOG_FLOOR).astype(np.float32)


def test_a_words_pyramid_marks_each_character_where_half_of_it_lies():
    pyramid = Pyramid(ALPHABET, (1, 2, 3))
    y = pyramid.words(["abc", "AB"])
    col = {c: i for i, c in enumerate(ALPHABET)}
    on = lambda row, region: {c for c in ALPHABET if y[row, region, col[c]]}   # noqa: E731
    # "abc": level 1 all; level 2: b spans [1/3, 2/3], half of it in each half; level 3 one each.
    assert [on(0, k) for k in range(6)] == [{"a", "b", "c"}, {"a", "b"}, {"b", "c"}, {"a"}, {"b"}, {"c"}]
    assert [on(1, k) for k in range(3)] == [{"a", "b"}, {"a"}, {"b"}]        # case-folded
    assert y.shape == (2, 6, len(ALPHABET)) and set(np.unique(y)) <= {0.0, 1.0}


def test_characters_outside_the_alphabet_are_left_out_of_a_words_pyramid():
    pyramid = Pyramid(ALPHABET, (1, 2))
    np.testing.assert_array_equal(pyramid.words(["a?b"]), pyramid.words(["ab"]))


def test_a_clean_read_gives_the_words_pyramid_whatever_the_spacing():
    pyramid = Pyramid(ALPHABET, (1, 2, 3, 4))
    word = pyramid.words(["cabé"])[0]
    # (a recogniser's stray mass on other classes is ~1e-5 a frame; 40 frames of it add up)
    tight = _inputs(list("-c-a-b-é-") + ["-"] * 31, confidence=0.9995)
    spread = _inputs(list("--c-------a--b-----------é---") + ["-"] * 11, confidence=0.9995)   # uneven spacing
    for x in (tight, spread):
        np.testing.assert_allclose(pyramid.images([x])[0], word, atol=0.05)


def test_positions_follow_the_non_blank_mass_and_an_empty_read_is_present_nowhere():
    blank = np.array([1.0, 0.0, 1.0, 0.0, 1.0])
    np.testing.assert_allclose(frame_positions(blank), [0.0, 0.25, 0.5, 0.75, 1.0])
    empty = Pyramid(ALPHABET, (1, 2)).images([_inputs(["-"] * 12, confidence=1.0)])
    assert empty.max() < 1e-3


def test_inputs_of_different_lengths_are_read_one_by_one():
    pyramid = Pyramid(ALPHABET, (1, 2))
    short, long = _inputs(list("-a-b-"), confidence=1.0), _inputs(list("-a-b-") + ["-"] * 40, confidence=1.0)
    out = pyramid.images([short, long])
    np.testing.assert_allclose(out[0], out[1], atol=1e-6)


def test_the_torch_towers_pyramid_equals_numpys():
    torch = pytest.importorskip("torch")
    from ourmodel.towers import PyramidTower

    rng = np.random.default_rng(0)
    logits = rng.standard_normal((4, 40, 2 + len(ALPHABET))) * 3
    probs = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    x = np.log(probs + LOG_FLOOR).astype(np.float32)
    tower = PyramidTower(len(ALPHABET), (1, 2, 3))
    np.testing.assert_allclose(tower.presence(torch.from_numpy(x)).numpy(),
                               Pyramid(ALPHABET, (1, 2, 3)).images(x), atol=1e-6)


def test_a_position_warp_moves_middle_characters_across_regions_but_keeps_the_ends():
    torch = pytest.importorskip("torch")
    from ourmodel.towers import PyramidTower

    # "abcd" spread evenly: b sits at 3/8, in the left half; a strong warp pushes it past 1/2
    x = torch.from_numpy(np.stack([_inputs(list("--a---b---c---d--"), confidence=0.9995)] * 2))
    tower = PyramidTower(len(ALPHABET), (1, 2))
    plain, bent = tower.presence(x), tower.presence(x, warp=torch.tensor([0.0, 0.9]))
    torch.testing.assert_close(tower.presence(x, warp=torch.zeros(2)), plain)
    torch.testing.assert_close(bent[0], plain[0])
    b = ALPHABET.index("b")
    assert plain[1, 1, b] > 0.9 and bent[1, 1, b] < 0.1 and bent[1, 2, b] > 0.9   # regions: whole, left, right
    torch.testing.assert_close(bent[1, 0], plain[1, 0])                           # level 1 cannot move


def test_numpy_inference_of_a_pyramid_checkpoint_equals_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from ourmodel.inference import NumpyDualEncoder
    from ourmodel.model import DualEncoder, ModelConfig

    config = ModelConfig(backbone="ppocr", source="ppocrv6-posteriors", alphabet=ALPHABET,
                         feature_dim=2 + len(ALPHABET), pyramid_levels=[1, 2], char_dim=8)
    model = DualEncoder(config)
    for p in model.parameters():
        torch.nn.init.normal_(p, 0, 0.1)
    model.eval().save(tmp_path)
    fast = NumpyDualEncoder(tmp_path)
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((3, 40, 2 + len(ALPHABET))) * 3
    x = np.log(np.exp(logits) / np.exp(logits).sum(-1, keepdims=True) + LOG_FLOOR).astype(np.float32)
    words = Pyramid(ALPHABET, (1, 2)).words(["abc", "dé", "b"]).reshape(3, -1)
    texts = np.concatenate([rng.standard_normal((3, 512)), words], 1).astype(np.float32)
    assert fast.text_input_width == texts.shape[1]
    with torch.no_grad():
        np.testing.assert_allclose(model.encode_images(torch.from_numpy(x)).numpy(), fast.encode_features(x), atol=1e-5)
        np.testing.assert_allclose(model.encode_texts(torch.from_numpy(texts)).numpy(), fast.encode_anchors(texts),
                                   atol=1e-5)
    # A word's own pyramid read as an image (a perfect recogniser) goes through the same maps.
    spelled, _ = model.visual.encoder(torch.from_numpy(words.reshape(3, 3, -1)))
    np.testing.assert_allclose(fast._spelling(words.reshape(3, 3, -1), semantic=False), spelled.detach().numpy(),
                               atol=1e-5)


def test_sparse_word_scores_rank_words_as_the_dense_bernoulli_likelihood_does():
    pyramid = Pyramid(ALPHABET, (1, 2, 3))
    words = ["abc", "cab", "é", "", "dada", "aXb"]
    dense = pyramid.words(words).reshape(len(words), -1)
    indptr, indices = pyramid.word_cells(words)
    assert indptr.tolist()[-1] == int(dense.sum())
    for w in range(len(words)):
        assert sorted(indices[indptr[w]:indptr[w + 1]]) == np.flatnonzero(dense[w]).tolist()
    presence = np.random.default_rng(0).uniform(0, 1, (11, *pyramid.shape)).astype(np.float32)   # 8 + 3 a pass
    q = np.clip(presence.reshape(11, -1).astype(np.float64), 1e-6, 1 - 1e-6)
    likelihood = np.log(q) @ dense.T + np.log1p(-q) @ (1 - dense).T
    got = sparse_word_scores(bernoulli_log_odds(presence), indptr, indices)
    constant = np.log1p(-q).sum(1, keepdims=True)    # the image's own term: it does not change a ranking
    np.testing.assert_allclose(got + constant, likelihood, rtol=1e-4, atol=1e-3)



def test_training_augmentations_of_the_pyramid_change_nothing_unasked_and_drop_whole_characters():
    torch = pytest.importorskip("torch")
    from ourmodel.model import DualEncoder, ModelConfig
    from ourmodel.train import _encode_images

    model = DualEncoder(ModelConfig(backbone="ppocr", source="ppocrv6-posteriors", alphabet=ALPHABET,
                                    pyramid_levels=[1, 2])).eval()
    x = torch.from_numpy(np.stack([_inputs(list("--a---b---c--"), confidence=0.9995)] * 64))
    with torch.no_grad():
        torch.testing.assert_close(_encode_images(model, x, 0.0, 0.0), model.encode_images(x))
        seen = []
        model.visual.from_presence = lambda presence: seen.append(presence) or presence.sum((1, 2))[:, None]
        _encode_images(model, x, 0.0, 0.5)
    kept = seen[0][:, 0, :3] > 0.5                                       # a, b, c at level 1
    assert 0.3 < kept.float().mean() < 0.7                              # about half the characters dropped ...
    assert torch.equal(kept, (seen[0][:, 1:, :3] > 0.5).any(1))         # ... in every region at once
