"""Running methods: a method's outputs computed once and cached (``outputs``), what the harness
does with each method family (``families``), the run of methods x protocols (``runner``), its
verification by recomputation (``verify``) and the Ray cluster engine (``ray_engine``).

The only floor that calls methods. May import ``bench.core``, ``bench.data``, ``bench.evaluation``,
``bench.store`` and ``bench.api``.
"""
