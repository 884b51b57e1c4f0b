"""The private skorch side of skkd: the net that trains a student, and its data.

Internal to skkd (the estimators build these; nothing here is public API):
:class:`~skkd.training._net.DistillationNet` says what distillation adds to a
skorch ``NeuralNet``; the rows and their batches live in ``_data``; mixed
precision (``_mixed_precision``), data-parallel training through Hugging Face
``accelerate`` (``_accelerate``) and skorch's loops made lighter (``_loop``)
are mixins the net is composed of.
"""
