"""The private skorch side of skkd: the net that trains a student, and its data.

Internal to skkd (the estimators build these; nothing here is public API):
:class:`~skkd.training._net.DistillationNet` says what distillation adds to a
skorch ``NeuralNet``; the rows and their batches live in ``_data``, mixed
precision and data-parallel training (Hugging Face ``accelerate``) beside it.
"""
