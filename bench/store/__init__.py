"""Results on disk: the result record (``records``: the schema of one method x protocol result and
the run statuses), result files and their rankings sidecars (``results``), the efficiency files,
and shard results merged into whole ones (``shard``).

May import ``bench.core``, ``bench.data`` and ``bench.evaluation`` (a merge recomputes the metrics).
"""
