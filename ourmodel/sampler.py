"""Large language-balanced batches with several instances per semantic id (section 3.3)."""

from __future__ import annotations

from collections import defaultdict
from typing import Iterator, Sequence

import numpy as np


class BalancedBatchSampler:
    """Yields batches of sample indices: ``batch_size // instances`` distinct ids, each with
    ``instances`` samples spread over the languages in turn (en, zh, es, en, ...).

    Deterministic given (seed, epoch); every id appears about equally often per epoch.
    """

    def __init__(self, ids: Sequence[int], langs: Sequence[str], batch_size: int, instances: int = 3,
                 seed: int = 0):
        if batch_size % instances:
            raise ValueError("batch_size must be a multiple of instances")
        self.batch_size, self.instances, self.seed = batch_size, instances, seed
        self.by_id_lang: dict[int, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, (sid, lang) in enumerate(zip(ids, langs)):
            self.by_id_lang[int(sid)][lang].append(i)
        self.ids = np.array(sorted(self.by_id_lang))
        self.langs = sorted({l for d in self.by_id_lang.values() for l in d})
        self.ids_per_batch = batch_size // instances
        if self.ids_per_batch > len(self.ids):
            raise ValueError(f"batch needs {self.ids_per_batch} distinct ids, data has {len(self.ids)}")

    def __len__(self) -> int:
        return len(self.ids) // self.ids_per_batch

    def epoch(self, epoch: int) -> Iterator[list[int]]:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.ids)
        for b in range(len(self)):
            batch = []
            for sid in order[b * self.ids_per_batch:(b + 1) * self.ids_per_batch]:
                pools = self.by_id_lang[int(sid)]
                start = int(rng.integers(len(self.langs)))
                for k in range(self.instances):
                    lang = self.langs[(start + k) % len(self.langs)]
                    pool = pools.get(lang) or next(p for p in pools.values() if p)
                    batch.append(int(pool[int(rng.integers(len(pool)))]))
            yield batch

    def batches_from(self, step: int) -> Iterator[list[int]]:
        """Every batch from training step ``step`` on, epoch after epoch: the same stream an
        uninterrupted run draws, so a resumed run continues it exactly."""
        epoch, skip = divmod(step, len(self))
        while True:
            for i, batch in enumerate(self.epoch(epoch)):
                if i >= skip:
                    yield batch
            epoch, skip = epoch + 1, 0
