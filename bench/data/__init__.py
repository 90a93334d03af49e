"""Datasets on disk: schema validation, fingerprints, builders and loaders."""
