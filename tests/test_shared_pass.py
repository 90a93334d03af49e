"""One network pass per image, shared by the methods that read it (``methodkit.network_pass``):
``ppocrv6``, ``ppocrv6-ctc`` and ``ours`` run PP-OCRv6 once per image together, and sharing
changes no method's answers."""

import gzip
import json

import numpy as np
import pytest

from bench.api.registry import METHODS
from bench.engine.runner import RunConfig, run
from bench.core.passes import COMPUTED, PassStore, run_pass, sharing_passes
from methodkit.network_pass import by_padded_width, padded_width

PPOCRV6_READERS = ["ppocrv6", "ppocrv6-ctc", "ours"]


def _needs(*names):
    missing = [m for m in names if not METHODS.create(m).availability().ok]
    if missing:
        pytest.skip(f"not installed here: {missing}")


def _sidecars(results):
    return {str(p.relative_to(results)): json.loads(gzip.decompress(p.read_bytes()))
            for p in sorted(results.glob("*/*.rankings.json.gz"))}


def test_ppocrv6_runs_once_per_image_for_its_three_readers_and_sharing_changes_no_answer(tmp_path, toy_dataset):
    _needs(*PPOCRV6_READERS)
    protocols = ["id", "ood", "xling", "t2i"]
    key = METHODS.create("ppocrv6").shared_pass
    assert key and key == METHODS.create("ours").shared_pass == METHODS.create("ppocrv6-ctc").shared_pass
    assert METHODS.create("rapidocr").shared_pass == METHODS.create("rapidocr-ctc").shared_pass != key
    assert METHODS.create("ours-int8").shared_pass is None     # its own int8 graph

    COMPUTED.clear()
    outcomes = run(toy_dataset, RunConfig(methods=PPOCRV6_READERS, protocols=protocols, n_boot=0,
                                          results_dir=tmp_path / "together", cache_dir=tmp_path / "cache"))
    assert {o.status for o in outcomes} == {"ok"}, [(o.method, o.protocol, o.message) for o in outcomes]
    images = {s.content_hash for s in toy_dataset.samples if s.split in ("test_id", "test_ood")}
    assert COMPUTED[key] == len(images)                 # each test image once, for all three methods

    # Each method alone, from empty caches, answers every query exactly as it did beside the others.
    for name in PPOCRV6_READERS:
        COMPUTED.clear()
        run(toy_dataset, RunConfig(methods=[name], protocols=protocols, n_boot=0, results_dir=tmp_path / "alone",
                                   cache_dir=tmp_path / f"cache-{name}"))
        assert COMPUTED[key] == len(images)
    together, alone = _sidecars(tmp_path / "together"), _sidecars(tmp_path / "alone")
    assert len(together) == 3 * len(protocols) and together == alone


def test_a_pass_is_shared_only_while_the_runner_schedules_methods_together():
    calls = []

    def compute(images):
        calls.append(list(images))
        return [np.full((2, 3), float(len(im))) for im in images]

    COMPUTED.clear()
    with sharing_passes():
        first = run_pass("net", [_Image("ab"), _Image("c"), _Image("ab")], compute)
        assert calls == [[_Image("ab"), _Image("c")]]              # one computation per distinct image
        assert [a[0, 0] for a in first] == [2.0, 1.0, 2.0]
        run_pass("net", [_Image("c")], compute)
        run_pass("other", [_Image("c")], compute)                  # another pass is another network
        assert len(calls) == 2 and COMPUTED == {"net": 2, "other": 1}
    # Outside the schedule every call computes: a latency timed there is the network's, not a lookup.
    run_pass("net", [_Image("c")], compute)
    assert len(calls) == 3 and COMPUTED["net"] == 3


def test_the_store_drops_the_oldest_images_beyond_its_size():
    store = PassStore(max_bytes=3 * 48)
    compute = lambda images: [np.zeros((2, 3)) for _ in images]   # 48 bytes each
    COMPUTED.clear()
    store.get("net", [_Image(c) for c in "abcd"], compute)
    store.get("net", [_Image("d")], compute)
    assert COMPUTED["net"] == 4
    store.get("net", [_Image("a")], compute)                       # dropped: computed again
    assert COMPUTED["net"] == 5


def test_images_are_batched_by_padded_width_narrowest_first():
    from PIL import Image

    images = [Image.new("L", size) for size in [(100, 48), (700, 48), (320, 48), (96, 12)]]
    assert [padded_width(im) for im in images] == [320, 700, 320, 384]
    assert by_padded_width(images) == [[0, 2], [3], [1]]


class _Image:
    """Enough of a PIL image for ``image_digest``: mode, size, bytes."""

    mode, width, height = "L", 1, 1

    def __init__(self, text):
        self.text = text
        self.width = len(text)

    def tobytes(self):
        return self.text.encode()

    def __eq__(self, other):
        return self.text == other.text

    def __len__(self):
        return len(self.text)
