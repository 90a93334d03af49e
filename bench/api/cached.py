"""Where a method's outputs are cached: the one place a method cache's folder is made.

Each method configuration's outputs live under ``<cache root>/<name>-<cache key>/<kind>``
(``kind``: ``image``, ``text``, ``transcript``, ``scores-<lang>-<digest>`` ...). The engine fills
these caches while it runs a method.
"""

from __future__ import annotations

from bench.api.retriever import MethodInfo
from bench.core.cache import TextCache, VectorCache


def cache_namespace(info: MethodInfo) -> str:
    """The folder of one method configuration's outputs."""
    slug = "".join(c if c.isalnum() or c in "._-" else "_" for c in info.name)
    return f"{slug}-{info.cache_key()}"


def method_cache(cache_root, info: MethodInfo, kind: str, cache_type: type) -> VectorCache | TextCache:
    """The cache of one kind of output of one method configuration."""
    return cache_type(cache_root, f"{cache_namespace(info)}/{kind}")
