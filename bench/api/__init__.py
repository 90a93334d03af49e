"""``bench.api``: everything a method imports from the harness, and nothing else does it import.

Adding a method is one subclass of a family base class and one registration:

* the contract (``retriever``): ``EmbeddingRetriever``, ``TranscriptionRetriever``,
  ``ScoringRetriever``, with ``MethodInfo`` (what every result records about the method; its
  ``group`` is one of ``Group``, whose roles ``GROUP_INFO`` states), ``Availability``, ``RunContext``,
  options as a frozen dataclass (``options``), and ``Layer`` for ``compute_layers`` (``layers``);
* registration (``registry``): ``METHODS.register(name, "module:Class", tags=...)`` or a
  ``hwr_bench.plugins`` hook ``register(registry)``; a registration may carry fixed keyword
  arguments for its class (``kwargs``), so one class serves many named methods as declarations
  (``adapters.COMPOSITES``: ``rapidocr+dict`` is the dictionary pivot with ``engine="rapidocr"``);
* what a method built on another reads (``cached``): ``EngineOutputs``, the other method's
  transcripts or lexicon scores from the harness's cache;
* the errors a method raises or the harness raises at it, and the helpers methods share with the
  harness: the text policy (``normalise_text``, ``edit_similarities``), caches, file digests,
  thread limits, progress, a network pass shared with other methods (``run_pass``), and the dataset readers and schema (``Dataset``, ``load_dataset``,
  ``ImageItem``, ``LANGUAGES`` ...), re-exported here so that a method never imports ``bench.data``
  or any other floor itself.

A package's ``bench`` commands (``hwr_bench.commands``) import ``bench.api.commands`` (options,
the dataset, the outcome report, and ``harness(ctx)`` to run methods), not the CLI.

This floor may import ``bench.core``, ``bench.data``, ``bench.evaluation`` and ``bench.store``;
the method packages import only it (tests/test_layers.py checks both).
"""

from bench.api.cached import EngineOutputs
from bench.api.groups import GROUP_INFO, GroupInfo
from bench.api.layers import Layer, total_macs
from bench.api.options import NoOptions, OptionError, option_fields, parse_options
from bench.api.registry import (DEFAULT, EFFICIENCY, METHODS, Registration, Registry, RegistryError, create,
                                load_target, resolve)
from bench.api.retriever import (GROUPS, OFFLINE_ENV, Availability, EmbeddingRetriever, Family, Group, MethodInfo,
                                 Retriever, RunContext, ScoringRetriever, TranscriptionRetriever, downloads_allowed,
                                 go_offline)
from bench.core.cache import TextCache, VectorCache, default_cache_dir, default_dataset_path, text_item_key
from bench.core.errors import DatasetError, HwrBenchError, MethodOutputError, UnknownMethodError, did_you_mean
from bench.core.io import file_sha256
from bench.core.passes import image_digest, run_pass, timing_calls
from bench.core.progress import NULL_TRACKER, Tracker
from bench.core.text import normalise_text
from bench.core.threads import one_blas_thread, onnx_threads
from bench.data.schema import LANGUAGES, SPLITS, XLING_DIRECTIONS, ImageItem, LexiconEntry
from bench.data.store import Dataset, load_dataset
from bench.evaluation.ranking import edit_similarities

__all__ = [
    # the contract
    "Retriever", "EmbeddingRetriever", "TranscriptionRetriever", "ScoringRetriever", "Family", "Group", "GROUPS",
    "GroupInfo", "GROUP_INFO", "MethodInfo", "Availability", "RunContext", "NoOptions", "OptionError", "parse_options",
    "option_fields", "Layer", "total_macs", "downloads_allowed", "go_offline", "OFFLINE_ENV",
    # registration
    "METHODS", "Registry", "Registration", "RegistryError", "DEFAULT", "EFFICIENCY", "load_target", "create", "resolve",
    # a method built on another
    "EngineOutputs",
    # errors
    "HwrBenchError", "DatasetError", "MethodOutputError", "UnknownMethodError", "did_you_mean",
    # shared helpers
    "normalise_text", "edit_similarities", "TextCache", "VectorCache", "text_item_key", "default_cache_dir",
    "default_dataset_path", "file_sha256", "one_blas_thread", "onnx_threads", "NULL_TRACKER", "Tracker",
    "run_pass", "image_digest", "timing_calls",
    # datasets
    "Dataset", "load_dataset", "ImageItem", "LexiconEntry", "LANGUAGES", "SPLITS", "XLING_DIRECTIONS",
]
