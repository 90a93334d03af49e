"""Ways to execute a run: in-process (``bench.runner.run``) or spread over a Ray cluster."""
