import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import metrics
from bench.ranking import rank_queries, tiebreak_order


def test_hand_computed_metrics():
    first = np.array([1, 2, 4, 10])
    assert metrics.acc_at_k(first, 1) == 0.25
    assert metrics.acc_at_k(first, 3) == 0.5
    assert metrics.acc_at_k(first, 5) == 0.75
    assert metrics.mean_reciprocal_rank(first) == pytest.approx((1 + 0.5 + 0.25 + 0.1) / 4)
    assert metrics.average_precision([1, 3]) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert metrics.average_precision([2]) == 0.5


def test_nes_policy():
    assert metrics.nes("apple", "apple") == 1.0
    assert metrics.nes("Apple ", "apple") == 1.0           # case and whitespace policy
    assert metrics.nes("applo", "apple") == pytest.approx(0.8)
    assert metrics.nes("", "") == 1.0
    assert metrics.nes("", "abc") == 0.0
    # NFC: a decomposed "ñ" equals the composed one.
    assert metrics.nes("man\u0303ana", "mañana") == 1.0


def test_rd_ratio_hand_computed():
    # Two classes on the unit circle, members at +-30 degrees around 0 and 180 degrees.
    a = np.deg2rad([-30, 30, 150, 210])
    x = np.stack([np.cos(a), np.sin(a)], 1)
    t = metrics.rd_ratio(x, [0, 0, 1, 1])
    # centroids (+-cos30, 0); radius = sin30 = 0.5; distance = 2 cos30
    assert t.radius == pytest.approx(0.5)
    assert t.distance == pytest.approx(2 * np.cos(np.deg2rad(30)))
    assert t.ratio == pytest.approx(0.5 / (2 * np.cos(np.deg2rad(30))))
    assert (t.n_classes, t.n_points) == (2, 4)


def test_rd_needs_two_classes():
    with pytest.raises(ValueError):
        metrics.rd_ratio(np.eye(3), [1, 1, 1])


def test_bootstrap_interval_contains_mean_and_narrows():
    rng = np.random.default_rng(0)
    small = (rng.random(50) < 0.5).astype(float)
    large = (rng.random(5000) < 0.5).astype(float)
    lo_s, hi_s = metrics.percentile_interval(metrics.bootstrap_means([small], n_boot=500))
    lo_l, hi_l = metrics.percentile_interval(metrics.bootstrap_means([large], n_boot=500))
    assert lo_s <= small.mean() <= hi_s
    assert lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < hi_s - lo_s


def test_bootstrap_mean_combination_weights_groups_equally():
    groups = [np.ones(10), np.zeros(1000)]
    pooled = metrics.bootstrap_means(groups, combine="pooled", n_boot=50)
    mean = metrics.bootstrap_means(groups, combine="mean", n_boot=50)
    assert np.allclose(pooled, 10 / 1010)
    assert np.allclose(mean, 0.5)


def test_paired_bootstrap_detects_difference():
    rng = np.random.default_rng(1)
    b = (rng.random(400) < 0.5).astype(float)
    a = np.maximum(b, (rng.random(400) < 0.3).astype(float))  # a is b plus extra hits
    test = metrics.paired_bootstrap(a, b, n_boot=2000)
    assert test.mean_difference > 0 and test.ci_low > 0 and test.p_value < 0.01
    same = metrics.paired_bootstrap(b, b, n_boot=2000)
    assert same.mean_difference == 0 and same.p_value == 1.0


# --- property-based checks of ranking + metrics -------------------------------------------

@st.composite
def retrieval_problems(draw):
    n_gallery = draw(st.integers(2, 12))
    n_queries = draw(st.integers(1, 8))
    # Few distinct score values so ties are common.
    scores = draw(st.lists(st.lists(st.integers(0, 3), min_size=n_gallery, max_size=n_gallery),
                           min_size=n_queries, max_size=n_queries))
    relevant = [sorted(draw(st.sets(st.integers(0, n_gallery - 1), min_size=1, max_size=3)))
                for _ in range(n_queries)]
    return np.array(scores, dtype=float), relevant


def _rank(scores, relevant, keys):
    return rank_queries(lambda a, b: scores[a:b], len(scores), [f"q{i}" for i in range(len(scores))],
                        keys, relevant, k=len(keys))


def _brute_force_ranks(scores, relevant, keys):
    out = []
    for row, rel in zip(scores, relevant):
        order = sorted(range(len(keys)), key=lambda j: (-row[j], keys[j]))
        out.append(sorted(order.index(r) + 1 for r in rel))
    return out


@settings(max_examples=200, deadline=None)
@given(retrieval_problems())
def test_ranks_agree_with_brute_force(problem):
    scores, relevant = problem
    keys = [f"g{j:02d}" for j in range(scores.shape[1])]
    ranking = _rank(scores, relevant, keys)
    assert [r.tolist() for r in ranking.relevant_ranks] == _brute_force_ranks(scores, relevant, keys)


@settings(max_examples=200, deadline=None)
@given(retrieval_problems(), st.integers(1, 4))
def test_top_k_agrees_with_a_full_sort(problem, k):
    scores, relevant = problem
    keys = [f"g{j:02d}" for j in range(scores.shape[1])][::-1]   # key order differs from position
    ranking = rank_queries(lambda a, b: scores[a:b], len(scores), [f"q{i}" for i in range(len(scores))],
                           keys, relevant, k=k)
    for row, top in zip(scores, ranking.top_idx):
        full = sorted(range(len(keys)), key=lambda j: (-row[j], keys[j]))
        assert top.tolist() == full[:min(k, len(keys))]


@settings(max_examples=200, deadline=None)
@given(retrieval_problems(), st.randoms(use_true_random=False))
def test_ranking_invariant_to_gallery_order(problem, rnd):
    scores, relevant = problem
    keys = [f"g{j:02d}" for j in range(scores.shape[1])]
    perm = list(range(len(keys)))
    rnd.shuffle(perm)
    inv = np.argsort(perm)
    shuffled = _rank(scores[:, perm], [sorted(int(inv[r]) for r in rel) for rel in relevant],
                     [keys[p] for p in perm])
    base = _rank(scores, relevant, keys)
    assert [r.tolist() for r in shuffled.relevant_ranks] == [r.tolist() for r in base.relevant_ranks]
    assert [[shuffled.gallery_keys[i] for i in row] for row in shuffled.top_idx] == \
           [[base.gallery_keys[i] for i in row] for row in base.top_idx]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 50), min_size=1, max_size=40))
def test_metric_bounds_and_monotonic_in_k(first_ranks):
    first = np.array(first_ranks)
    accs = [metrics.acc_at_k(first, k) for k in range(1, 52)]
    assert all(0.0 <= a <= 1.0 for a in accs)
    assert all(a <= b for a, b in zip(accs, accs[1:]))
    assert accs[-1] == 1.0
    mrr = metrics.mean_reciprocal_rank(first)
    assert accs[0] <= mrr <= 1.0


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=12), st.text(max_size=12))
def test_nes_bounds_and_symmetry(a, b):
    v = metrics.nes(a, b)
    assert 0.0 <= v <= 1.0
    assert v == pytest.approx(metrics.nes(b, a))
    assert metrics.nes(a, a) == 1.0


def test_tiebreak_order_is_key_order():
    assert tiebreak_order(["b", "a", "c"]).tolist() == [1, 0, 2]


def test_chunked_ranking_equals_single_chunk(monkeypatch):
    import bench.ranking as ranking

    rng = np.random.default_rng(3)
    scores = rng.integers(0, 5, size=(37, 11)).astype(float)
    relevant = [[int(rng.integers(0, 11))] for _ in range(37)]
    keys = [f"g{j}" for j in range(11)]
    whole = _rank(scores, relevant, keys)
    monkeypatch.setattr(ranking, "CHUNK_CELLS", 22)  # two queries per chunk
    chunked = _rank(scores, relevant, keys)
    assert np.array_equal(whole.top_idx, chunked.top_idx)
    assert [r.tolist() for r in whole.relevant_ranks] == [r.tolist() for r in chunked.relevant_ranks]
