"""Threads: onnxruntime's intra-op thread count (``onnx_threads``), and one BLAS thread for small,
per-item numpy work (``one_blas_thread``).

BLAS picks kernels by matrix size and splits work by thread count, so a product's last bits can
depend on both: per-item computations run on one thread give the same bits on every machine.
Entering the limit once around a loop (not per call) keeps it cheap: changing OpenBLAS's thread
count starts and stops threads.
"""

from __future__ import annotations

import functools
import os


def onnx_threads() -> int:
    """onnxruntime's intra-op threads: ``$HWR_BENCH_THREADS``, else one per core (what ``bench
    efficiency`` records beside its latencies)."""
    return int(os.environ.get("HWR_BENCH_THREADS", os.cpu_count() or 1))


@functools.lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread():
    """A context manager: numpy's BLAS on one thread inside it."""
    return _controller().limit(limits=1, user_api="blas")
