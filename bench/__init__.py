"""hwr-bench: a benchmark harness for cross-script handwriting retrieval.

Importing this package is cheap on purpose: heavy libraries (pyarrow, datasets,
torch) are imported inside the functions that need them.
"""

__version__ = "0.1.0"

RESULT_SCHEMA_VERSION = 1
