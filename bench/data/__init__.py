"""Datasets on disk: the schema (samples, the lexicon, image items), validation, fingerprints,
the embedded benchmark's builder and its assets, importers of real handwriting sets, and loaders.

May import ``bench.core`` only.
"""
