"""Network passes shared between methods while the runner schedules them together.

Several methods may read one network over the same images (``Retriever.shared_pass``). While the
runner computes such methods image-major it opens ``sharing_passes()``: inside, ``run_pass`` keeps
each image's pass output in a small in-memory store keyed by (pass key, image content), so the
first method computes it and the others read it. Outside (a method alone, `bench efficiency`, a
gallery protocol timing its queries) ``run_pass`` always computes: a latency measured there is
the network's, never a lookup. The store lives only as long as the schedule: nothing of a pass is
kept on disk (PP-OCRv6's posteriors are 40 frames x 18,710 classes per image).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
from collections import Counter, OrderedDict
from typing import Callable, Sequence

# Images each pass has run its network on in this process, shared or not (what a test counts).
COMPUTED: Counter[str] = Counter()


def image_digest(image) -> str:
    """What identifies a decoded image: its mode, size and pixels."""
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{image.mode}:{image.width}x{image.height}:".encode())
    h.update(image.tobytes())
    return h.hexdigest()


class PassStore:
    """Recent pass outputs (arrays), per (pass key, image digest), up to ``max_bytes``; oldest dropped first."""

    def __init__(self, max_bytes: int = 1 << 30):
        self.max_bytes = max_bytes
        self._store: OrderedDict[tuple[str, str], object] = OrderedDict()
        self._bytes = 0

    def get(self, key: str, images: Sequence, compute: Callable[[list], list]) -> list:
        """The pass ``key`` of each image; the missing ones computed by ``compute(images)``, in one call."""
        digests = [image_digest(im) for im in images]
        found = [self._store.get((key, d)) for d in digests]
        todo: dict[str, int] = {}
        for i, (d, v) in enumerate(zip(digests, found)):
            if v is None:
                todo.setdefault(d, i)
        if todo:
            fresh = dict(zip(todo, _computed(key, [images[i] for i in todo.values()], compute)))
            for d, v in fresh.items():
                self._put((key, d), v)
            found = [fresh[d] if v is None else v for d, v in zip(digests, found)]
        for d in digests:
            if (key, d) in self._store:
                self._store.move_to_end((key, d))
        return found

    def _put(self, k: tuple[str, str], v) -> None:
        if k in self._store:
            return
        self._store[k] = v
        self._bytes += getattr(v, "nbytes", 0)
        while self._bytes > self.max_bytes and len(self._store) > 1:
            _, old = self._store.popitem(last=False)
            self._bytes -= getattr(old, "nbytes", 0)


def _computed(key: str, images: list, compute: Callable[[list], list]) -> list:
    out = compute(images)
    COMPUTED[key] += len(images)
    return out


_ACTIVE: contextvars.ContextVar[PassStore | None] = contextvars.ContextVar("hwr_bench_pass_store", default=None)
_TIMING: contextvars.ContextVar[bool] = contextvars.ContextVar("hwr_bench_timing_only", default=False)


@contextlib.contextmanager
def timing_only():
    """Inside: the outputs of image calls are timed and thrown away (`bench efficiency`, a gallery
    protocol's query latency), so a method may take the fastest path even where its bits differ
    from a batched run's (``timing_calls``)."""
    token = _TIMING.set(True)
    try:
        yield
    finally:
        _TIMING.reset(token)


def timing_calls() -> bool:
    """Whether the current image calls are only being timed (``timing_only``)."""
    return _TIMING.get()


@contextlib.contextmanager
def sharing_passes(max_bytes: int = 1 << 30):
    """Inside: pass outputs are shared through one fresh store (the runner's shared schedule)."""
    token = _ACTIVE.set(PassStore(max_bytes))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def run_pass(key: str, images: Sequence, compute: Callable[[list], list]) -> list:
    """``compute(images)``, through the shared store while ``sharing_passes`` is open."""
    store = _ACTIVE.get()
    if store is None:
        return _computed(key, list(images), compute)
    return store.get(key, list(images), compute)
