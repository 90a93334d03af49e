"""What ours' towers read: PP-OCRv6 posteriors restricted to the lexicon's characters, and the
text tower's anchor + spelling input that separates every lexicon entry."""

import json

import numpy as np
import pytest

from bench.data.lexicon import load_lexicon, texts_by_lang
from ourmodel.anchors import checkpoint_text_inputs, spelling_vectors, text_inputs
from ourmodel.inference import NumpyDualEncoder
from ourmodel.ppocr import LOG_FLOOR, PPOCR_V6, PPOCRFeatures, PosteriorGroups, classes, charset_of, lexicon_alphabet

SHIPPED = __import__("adapters.ours", fromlist=["SHIPPED"]).SHIPPED


def test_spelling_vectors_are_deterministic_unit_and_tell_words_apart():
    words = ["鳄鱼", "鲨鱼", "鲸鱼", "apple", "appel", "manzana"]
    a, b = spelling_vectors(words, 256), spelling_vectors(list(words), 256)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0)
    sims = a @ a.T
    assert sims[np.triu_indices(len(words), 1)].max() < 0.99     # no two of them alike
    assert sims[3, 4] > sims[3, 5]                               # shared letters count


def _distinct_rows(x: np.ndarray) -> int:
    return len({row.tobytes() for row in np.round(x, 6)})


def test_use_alone_collides_and_the_shipped_text_tower_separates_every_entry():
    config = json.loads((SHIPPED / "config.json").read_text())
    by_lang = texts_by_lang(load_lexicon())
    raw_zh = text_inputs(by_lang["zh"], ["zh"] * len(by_lang["zh"]), None, 0)
    assert _distinct_rows(raw_zh) < len(by_lang["zh"])           # why the spelling vector exists
    model = NumpyDualEncoder(SHIPPED)
    for lang, words in by_lang.items():
        emb = model.encode_anchors(checkpoint_text_inputs(config, words, [lang] * len(words), None))
        assert _distinct_rows(emb) == len(set(words)), f"{lang}: lexicon entries share an embedding"


def test_a_texts_vector_does_not_depend_on_its_batch_mates():
    from bench.api import one_blas_thread
    from bench.core.passes import timing_only
    from ourmodel.inference import ANCHOR_BATCH

    model = NumpyDualEncoder(SHIPPED)
    anchors = np.random.default_rng(0).standard_normal((ANCHOR_BATCH + 37, model.text_input_width)).astype(np.float32)
    whole = model.encode_anchors(anchors)
    order = np.random.default_rng(1).permutation(len(anchors))
    np.testing.assert_array_equal(model.encode_anchors(anchors[order]), whole[order])   # other batch-mates, other chunks
    np.testing.assert_array_equal(model.encode_anchors(anchors[5:6]), whole[5:6])       # alone
    with timing_only():                                    # a timed call: each text alone, its true cost
        timed = model.encode_anchors(anchors[:3])
    with one_blas_thread():                                # as encode_anchors runs it
        alone = model._encode_anchor(anchors[1:2])[0]
    np.testing.assert_array_equal(timed[1], alone)
    np.testing.assert_allclose(timed, whole[:3], atol=1e-6)


def test_restricted_classifier_is_the_full_posterior_renormalised():
    """The cut classifier's softmax equals the whole model's, renormalised over the kept classes."""
    if not PPOCR_V6.model.availability().ok:
        pytest.skip("rapidocr==3.10.0 is not installed")
    import onnxruntime as ort
    from PIL import Image, ImageDraw

    image = Image.new("L", (200, 48), 255)
    ImageDraw.Draw(image).text((10, 15), "mañana", fill=0)
    alphabet = lexicon_alphabet(["mañana", "apple", "苹果"])
    features = PPOCRFeatures(threads=1, source=PPOCR_V6, alphabet=alphabet)
    from ourmodel.ppocr import preprocess

    full_model = __import__("onnx").load(str(PPOCR_V6.path()))
    full = ort.InferenceSession(full_model.SerializeToString(), providers=["CPUExecutionProvider"])
    probs = full.run(None, {full.get_inputs()[0].name: preprocess([image])})[0]
    groups = classes(charset_of(full_model), alphabet)
    kept = probs[..., [i for g in groups for i in g]]
    expected = PosteriorGroups(groups)(kept / kept.sum(-1, keepdims=True))
    got = features([image])
    assert got.shape == (1, 40, len(alphabet) + 2)
    assert np.allclose(got, expected, atol=2e-3)
    assert np.allclose((np.exp(got) - LOG_FLOOR).sum(-1), 1.0, atol=1e-3)   # a distribution over the groups


def test_int8_backbone_quantises_the_restricted_posterior_graph(tmp_path, toy_dataset):
    """`bench quantize`'s recipe on a posterior backbone: int8 convolutions, fp32 MatMuls, the
    checkpoint's alphabet recorded, and posteriors that still read what the fp32 graph reads."""
    if not PPOCR_V6.model.availability().ok:
        pytest.skip("rapidocr==3.10.0 is not installed")
    import json

    import onnx

    from ourmodel.quantize import BACKBONE_FILE, write_int8_backbone

    alphabet = lexicon_alphabet([e.text for e in toy_dataset.lexicon])
    path = write_int8_backbone(toy_dataset, tmp_path, PPOCR_V6, alphabet)
    assert path == tmp_path / BACKBONE_FILE
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "QLinearConv" in ops and "Conv" not in ops and "MatMul" in ops
    record = json.loads((tmp_path / "quantization.json").read_text())
    assert record["source"] == PPOCR_V6.name and record["alphabet"] == alphabet
    assert record["calibration_fingerprint"] == toy_dataset.fingerprint

    images = [it.image for it in toy_dataset.image_items([s.key for s in toy_dataset.select(split="test_id")][:16])]
    fp32 = PPOCRFeatures(threads=1, source=PPOCR_V6, alphabet=alphabet)(images)
    int8 = PPOCRFeatures(threads=1, source=PPOCR_V6, alphabet=alphabet, model=onnx.load(str(path)))(images)
    assert int8.shape == fp32.shape
    assert not np.allclose(int8, fp32, atol=1e-3)                           # really another graph
    assert (int8.argmax(-1) == fp32.argmax(-1)).mean() > 0.8                # that reads the same frames


def test_the_recognisers_tail_in_torch_reads_as_the_frozen_graph_and_learns_transcriptions(toy_dataset):
    """ourmodel.adapt: at step 0 the torch classifier (with or without its zero-started adapter)
    gives the frozen graph's head inputs; CTC on the images' own words then lowers their loss."""
    torch = pytest.importorskip("torch")
    from ourmodel.adapt import FEATURES, ctc_loss, tail_from_onnx

    samples = toy_dataset.select(split="train")[:6]
    images = [toy_dataset.image_item(s.key).image for s in samples]
    alphabet = lexicon_alphabet([e.text for e in toy_dataset.lexicon])
    features = torch.from_numpy(PPOCRFeatures(source=FEATURES)(images))
    frozen = PPOCRFeatures(source=PPOCR_V6, alphabet=alphabet)(images)
    assert features.shape[-1] == 120
    texts = [s.text for s in samples]
    for adapter in (0, 16):
        tail = tail_from_onnx(alphabet, adapter)
        with torch.no_grad():
            np.testing.assert_allclose(np.exp(tail.head_inputs(features).numpy()), np.exp(frozen), atol=1e-4)
        torch.manual_seed(0)
        optim = torch.optim.Adam(tail.parameters(), lr=1e-2)
        first = float(ctc_loss(tail, features, texts, alphabet).detach())
        for _ in range(15):
            loss = ctc_loss(tail, features, texts, alphabet)
            optim.zero_grad()
            loss.backward()
            optim.step()
        assert float(ctc_loss(tail, features, texts, alphabet).detach()) < 0.7 * first
