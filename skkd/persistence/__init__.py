"""Save a fitted student as tensors and plain data, and load it without running the file's code.

A pickle (``pickle``, ``joblib``) rebuilds objects by calling what the file
names, so loading one runs any code it holds. :func:`save_student` writes
instead, with ``torch.save``, the student's weights (``state_dict``) and plain
values only: the fitted attributes (``classes_`` or ``target_mean_`` and
``target_scale_``, ``n_features_in_``, ``feature_names_in_``, ``encoding_``,
``columns_``, ...), the estimator's class by name, the parameters that are plain
values, the student module by its registered name, and the training history.
:func:`load_student` reads them with ``torch.load(weights_only=True)``, which
builds tensors and plain Python values and nothing else, then rebuilds the
estimator from skkd's own code: a fitted ``DistilledClassifier`` or
``DistilledRegressor`` without a teacher that predicts exactly as
``without_teacher()`` does and (unless fitted on a raw DataFrame) exports to
ONNX. What a file may hold, and the
checks that refuse anything else before it is used, live in
``skkd/persistence/_format.py``.
"""

from __future__ import annotations

from skkd.persistence._format import FORMAT, FORMAT_VERSION
from skkd.persistence._load import load_student
from skkd.persistence._save import save_student

__all__ = ["FORMAT", "FORMAT_VERSION", "load_student", "save_student"]
