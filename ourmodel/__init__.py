"""The in-house asymmetric dual encoder behind the ``ours`` methods.

* the towers and the model: ``ppocr`` (the frozen PP-OCRv4 recogniser from the
  rapidocr-onnxruntime wheel, cut at its sequence feature) and ``features``
  (those features, cached), ``towers`` (sequence head, the paper's
  ``mobilenetv3`` tower, text projector) and ``model`` (config, checkpoint
  format); the text anchor is the methods' shared ``methodkit.text_encoder``
  (``distilbert`` keeps the paper's trainable alternative);
* training: ``losses`` (InfoNCE, semantic consistency), ``sampler``
  (language-balanced batches), ``train`` (the resumable loop), ``training_run``
  (dataset to checkpoint: inputs, the validator, a whole run), ``ablation`` (Table 5 at a reduced budget) and
  ``curves`` (learning-curve plots);
* deployment: ``inference`` (numpy forward pass of a trained head, no torch) and
  ``quantize`` (the int8 backbone).

``adapters.ours`` runs the shipped checkpoints (``checkpoints/ours``,
``checkpoints/ours-int8``) as methods; torch is needed for training only.
"""
