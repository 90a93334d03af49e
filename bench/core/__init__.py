"""Floor 0, the harness's ground: errors, atomic file I/O, the text policy, BLAS threads, progress,
provenance (version, git state, machine) and the on-disk caches.

Imports nothing from ``bench`` but the package root (its version). Everything above may import it.
"""
