"""Method adapters, one module per family. Heavy dependencies are imported inside them."""
