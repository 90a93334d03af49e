"""Helpers that methods share, below both the built-in methods (``adapters``) and the in-house
model (``ourmodel``): exact CTC lexicon scoring (``ctc_lexicon``), the PP-OCR recognisers shipped
in PyPI wheels (``wheel_model``), the frozen multilingual text encoder (``text_encoder``), and
parameter counts and weight layers read from model files (``params``, ``layers``).

Not part of the harness: ``bench`` never imports it. It imports only ``bench.api``, like any method.
"""
