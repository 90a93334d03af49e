"""The DistilBERT anchor through its real loading path, on a tiny random model the test saves."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from ourmodel.distilbert import DistilBertAnchor


@pytest.fixture
def tiny_distilbert(tmp_path):
    from transformers import BertTokenizerFast, DistilBertConfig, DistilBertModel

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "apple", "manzana", "苹", "果", "water", "agua"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt")).save_pretrained(str(tmp_path))
    config = DistilBertConfig(vocab_size=len(vocab), dim=32, hidden_dim=64, n_layers=4, n_heads=2,
                              max_position_embeddings=64)
    torch.manual_seed(0)
    DistilBertModel(config).save_pretrained(str(tmp_path))
    return tmp_path


def test_bottom_layers_frozen_top_layers_trained(tiny_distilbert):
    anchor = DistilBertAnchor(str(tiny_distilbert), trainable_layers=1)
    out = anchor(["apple", "manzana", "苹果 water"])
    assert out.shape == (3, 32)
    out.pow(2).sum().backward()
    layers = anchor.encoder.transformer.layer
    assert all(p.grad is None for p in anchor.encoder.embeddings.parameters())
    assert all(p.grad is None for layer in layers[:-1] for p in layer.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in layers[-1].parameters())


def test_missing_checkpoint_fails_offline_with_its_name(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(Exception) as err:
        DistilBertAnchor(str(tmp_path / "no-such-model"))
    assert "no-such-model" in str(err.value)
