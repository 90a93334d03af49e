"""The paper's own recipe, trainable end to end on any device (``bench train --recipe paper``).

* ``recipe``: the paper's hyper-parameters as data, in one place (``PaperRecipe``), and every place
  this implementation departs from the paper (``DEPARTURES``);
* ``packed``: the training data as compact arrays (4-bit grey word images, ids, languages, the
  lexicon's text anchors) and their loader, which needs numpy only, so the data travels to a GPU
  machine that has torch and nothing of this project's dependencies;
* ``model``: MobileNetV3-Small from scratch, a multilingual DistilBERT with its bottom layers frozen
  (or, where transformers or its weights are missing, the packed frozen anchors), 128-d projectors;
* ``trainer``: the two-stage loop with device-side augmentation and bf16 autocast on CUDA;
* ``export``: the visual tower to ONNX and the lexicon's text vectors, what ``ours-paper`` runs
  without torch.
"""
