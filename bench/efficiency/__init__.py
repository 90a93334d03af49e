"""``bench efficiency``: the cost of a method per query image, measured here (``measure``: latency,
peak memory, MACs from its weight layers) and estimated on a compute-in-memory accelerator (``cim``).

Runs methods, so it sits above ``bench.engine`` (whose family operations it calls); writes through
``bench.store``. May import ``bench.core``, ``bench.data``, ``bench.store``, ``bench.api`` and
``bench.engine``.
"""
