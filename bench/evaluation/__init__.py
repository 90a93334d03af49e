"""What a result measures: the protocols (tasks built from a dataset), the metrics, ranking by
similarity, the bootstrap summary of per-query rankings, and the R/D topology of embeddings.

Pure functions of a dataset and of rankings or vectors: no method is ever called here. May import
``bench.core`` and ``bench.data``.
"""
