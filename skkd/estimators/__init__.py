"""The scikit-learn face of skkd: :class:`DistilledClassifier` and :class:`DistilledRegressor`.

Both share :class:`~skkd.estimators._base.BaseDistiller` (the shared
parameters, the transaction that restores a fitted estimator when a fit
fails, ``without_teacher``), whose fit is a list of named steps
(``_fit.py``) and whose student is built in ``_student.py``. Each task adds
its machinery (``_classification.py``, ``_regression.py``: targets, the
teacher's outputs, the losses, prediction) and its face (``_classifier.py``,
``_regressor.py``: its parameters, its parameter table composed from
``_params.py``'s, its documentation, with the text both share in ``_docs.py``).
"""

from __future__ import annotations

from skkd.estimators._classifier import DistilledClassifier
from skkd.estimators._regressor import DistilledRegressor

__all__ = ["DistilledClassifier", "DistilledRegressor"]
