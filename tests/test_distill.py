"""The CTC lexicon teacher and the posterior augmentations of ours' training (ourmodel/distill.py,
ourmodel/train.py)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from methodkit.ctc_lexicon import compile_lexicon, ctc_log_likelihoods
from ourmodel.distill import cached_teacher, teacher_topk
from ourmodel.ppocr import LOG_FLOOR, group_charset, posteriors_of
from ourmodel.train import TrainConfig, _distill_loss, augment_posteriors

ALPHABET = "abcnñ"
CHARSET = group_charset(ALPHABET)            # blank, space, a, b, c, n, ñ


def _inputs_reading(word: str, frames: int = 8, confidence: float = 0.9, seed: int = 0) -> np.ndarray:
    """Head inputs (log(p + floor) over the groups) of an image that reads ``word``: each
    character for one frame, blanks between and after, the rest of the mass spread at random."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(len(CHARSET)), size=frames) * (1 - confidence)
    labels = [CHARSET.index(c) for c in word]
    path = [x for c in labels for x in (c, 0)] + [0] * frames
    for t in range(frames):
        p[t, path[t]] += confidence
    return np.log(p + LOG_FLOOR)


def _lexicon():
    en = ["ab", "ba", "cab", "abc"]
    es = ["año", "ana", "cana"]
    return {"en": en, "es": es}, {"en": np.array([0, 2, 4, 6]), "es": np.array([1, 3, 5])}


def test_teacher_ranks_its_languages_words_by_their_ctc_likelihood():
    texts, rows = _lexicon()
    images = [("en", "cab"), ("es", "ana"), ("en", "ba"), ("es", "cana")]
    inputs = np.stack([_inputs_reading(w, seed=i) for i, (_, w) in enumerate(images)])
    langs = [lang for lang, _ in images]
    top_rows, top_ll = teacher_topk(inputs, langs, texts, rows, ALPHABET, k=3)
    assert top_rows.shape == top_ll.shape == (4, 3)
    for i, (lang, word) in enumerate(images):
        # The best word is the one the image reads, and every row belongs to the image's language.
        assert top_rows[i, 0] == rows[lang][texts[lang].index(word)]
        assert set(top_rows[i]) <= set(rows[lang])
        assert np.all(np.diff(top_ll[i]) <= 0)
        # The scores are the adapters' exact CTC log-likelihoods on the restricted posteriors.
        exact = ctc_log_likelihoods(posteriors_of(inputs[i:i + 1]), compile_lexicon(texts[lang], CHARSET, blank=0, space=1))[0]
        for r, ll in zip(top_rows[i], top_ll[i]):
            assert ll == pytest.approx(exact[list(rows[lang]).index(r)], rel=1e-5)


def test_teacher_pads_a_lexicon_smaller_than_k_with_impossible_words():
    texts, rows = _lexicon()
    inputs = _inputs_reading("ana")[None]
    top_rows, top_ll = teacher_topk(inputs, ["es"], texts, rows, ALPHABET, k=5)
    assert top_ll[0, 3] < -1e5 and top_ll[0, 4] < -1e5
    assert set(top_rows[0]) == set(rows["es"])


def test_teacher_refuses_inputs_that_are_not_posteriors_over_the_alphabet():
    texts, rows = _lexicon()
    with pytest.raises(ValueError, match="posterior backbone"):
        teacher_topk(np.zeros((1, 8, 120), np.float32), ["en"], texts, rows, ALPHABET, k=2)


def test_teacher_is_cached_by_its_inputs_key(tmp_path):
    texts, rows = _lexicon()
    inputs = np.stack([_inputs_reading("ab"), _inputs_reading("cab")])
    logs = []
    first = cached_teacher(inputs, ["en", "en"], texts, rows, ALPHABET, 2, tmp_path, key="k1", log=logs.append)
    again = cached_teacher(inputs, ["en", "en"], texts, rows, ALPHABET, 2, tmp_path, key="k1", log=logs.append)
    assert len(logs) == 1 and all(np.array_equal(a, b) for a, b in zip(first, again))
    cached_teacher(inputs, ["en", "en"], texts, rows, ALPHABET, 2, tmp_path, key="k2", log=logs.append)
    assert len(logs) == 2   # other inputs: computed anew


class _Data:
    """The fields of TrainingData that the distillation term reads."""

    def __init__(self, teacher):
        self.lex_langs = np.array(["en", "es", "en", "es"])
        self.lex_ids = np.array([7, 7, 9, 9])          # two concepts, each in en and es
        self.langs = ["en", "es"]
        self.teacher = teacher


def test_distill_loss_is_the_cross_entropy_to_the_teachers_softmax_over_same_language_words():
    teacher = (np.array([[2, 0], [1, 3]]), np.array([[-1.0, -3.0], [-2.0, -2.5]], np.float32))
    logits = torch.tensor([[1.0, 5.0, 2.0, 9.0], [0.5, 1.5, 7.0, -1.0]], requires_grad=True)
    got = _distill_loss(logits, _Data(teacher), [0, 1], tau=2.0)
    # By hand: image 0 (en) sees words 0 and 2 only; image 1 (es) words 1 and 3.
    want = 0.0
    for i, same in enumerate([[0, 2], [1, 3]]):
        log_student = F.log_softmax(logits[i, same], 0)
        target = F.softmax(torch.from_numpy(teacher[1][i]) / 2.0, 0)
        want = want - sum(t * log_student[same.index(r)] for t, r in zip(target, teacher[0][i]))
    assert float(got.detach()) == pytest.approx(float(want.detach()) / 2, rel=1e-6)
    got.backward()
    assert logits.grad[0, 1] == 0 and logits.grad[0, 3] == 0   # other-language words get no gradient
    with pytest.raises(RuntimeError, match="attach_teacher"):
        _distill_loss(logits, _Data(None), [0, 1], tau=2.0)


def test_posterior_augmentation_keeps_distributions_and_is_the_identity_when_off():
    x = torch.from_numpy(np.stack([_inputs_reading("cab", seed=s) for s in range(4)])).float()
    assert torch.equal(augment_posteriors(x, 1.0, 0.0), x)
    torch.manual_seed(0)
    flat = augment_posteriors(x, 3.0, 0.0)
    probs = flat.exp() - LOG_FLOOR
    torch.testing.assert_close(probs.sum(-1), torch.ones(4, 8), atol=1e-4, rtol=0)
    # Flattening lowers each frame's top probability but keeps the reading.
    assert torch.all(probs.max(-1).values <= (x.exp() - LOG_FLOOR).max(-1).values + 1e-6)
    assert torch.equal(probs.argmax(-1), x.argmax(-1))
    stretched = augment_posteriors(x, 1.0, 0.3)
    assert stretched.shape == x.shape
    # Every output frame is one of the same image's input frames.
    for b in range(4):
        assert all(any(torch.equal(f, g) for g in x[b]) for f in stretched[b])


def test_distill_over_the_lexicon_gives_each_teacher_word_its_concepts_probability():
    teacher = (np.array([[2, 0], [1, 3]]), np.array([[-1.0, -3.0], [-2.0, -2.5]], np.float32))
    logits = torch.tensor([[1.0, 5.0, 2.0, 9.0], [0.5, 1.5, 7.0, -1.0]])
    got = _distill_loss(logits, _Data(teacher), [0, 1], tau=2.0, over="lexicon")
    probs = F.softmax(logits, 1)
    concept = {0: [0, 1], 1: [0, 1], 2: [2, 3], 3: [2, 3]}   # row -> the rows of its concept
    want = 0.0
    for i in range(2):
        target = F.softmax(torch.from_numpy(teacher[1][i]) / 2.0, 0)
        want = want - sum(t * torch.log(probs[i, concept[int(r)]].sum()) for t, r in zip(target, teacher[0][i]))
    assert float(got) == pytest.approx(float(want) / 2, rel=1e-6)


def test_an_unknown_distillation_softmax_is_refused_when_the_config_is_made():
    with pytest.raises(ValueError, match="distill_over 'concepts'"):
        TrainConfig(distill_over="concepts")


def test_distillation_needs_a_backbone_that_gives_posteriors(toy_dataset, tmp_path):
    from ourmodel.training_run import load_train_config, run_training

    from ourmodel.train import TrainConfig

    off = {"backbone": "mnv3", "pyramid_levels": [], "spelled_i2t": 0.0, "char_dropout": 0.0}
    with pytest.raises(ValueError, match=r"^--set backbone: backbone 'mnv3' gives no posteriors, which distill needs "
                                         r".*; to train it add --set distill=0.0$"):
        load_train_config(None, {**off, "distill": 1.0})
    with pytest.raises(ValueError, match="gives no posteriors"):
        run_training(toy_dataset, tmp_path / "run", TrainConfig(**off, distill=1.0, val_queries=2), None,
                     log=lambda line: None)
    assert not (tmp_path / "run").exists()   # refused before anything was trained or written


def test_training_data_attaches_a_teacher_whose_best_word_is_the_one_each_image_reads(toy_dataset):
    """TrainingData.attach_teacher on inputs that read each training image's own word."""
    from ourmodel.ppocr import lexicon_alphabet
    from ourmodel.train import TrainingData

    alphabet = lexicon_alphabet([e.text for e in toy_dataset.lexicon])
    charset = group_charset(alphabet)

    def reads(samples):   # 40 frames: the word's characters, blanks between
        out = np.full((len(samples), 40, len(charset)), np.log(LOG_FLOOR), np.float32)
        for i, s in enumerate(samples):
            labels = [charset.index(c) if c in charset else 0 for c in s.text.lower()]
            path = [x for c in labels for x in (c, 0)][:40]
            path += [0] * (40 - len(path))
            out[i, np.arange(40), path] = np.log(1 + LOG_FLOOR)
        return out

    data = TrainingData(toy_dataset, reads, cache_root=None)
    data.attach_teacher(alphabet, 3, None, inputs_key="test", log=lambda line: None)
    rows, loglik = data.teacher
    assert rows.shape == loglik.shape == (len(data.samples), 3)
    assert all(data.lex_langs[r] == lang for r, lang in zip(rows[:, 0], data.langs))
    best = [data.lexicon[r].text for r in rows[:, 0]]
    assert np.mean([b == s.text for b, s in zip(best, data.samples)]) > 0.95
