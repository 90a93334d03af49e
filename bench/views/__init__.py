"""What results look like to a reader: the leaderboard (Markdown), the plots, paired comparisons
of two methods, and the static report site (``report/``).

Reads results; never runs a method (no ``bench.engine``): what a view needs computed (the
embeddings of a projection) is handed to it. May import ``bench.core``, ``bench.data``,
``bench.evaluation``, ``bench.store`` and ``bench.api``.
"""
