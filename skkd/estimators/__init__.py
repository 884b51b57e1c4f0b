"""The scikit-learn face of skkd: :class:`DistilledClassifier` and :class:`DistilledRegressor`.

Both share :class:`~skkd.estimators._base.BaseDistiller` (parameters, the fit
as named steps, the transaction that restores a fitted estimator when a fit
fails, the net, ``without_teacher``); each adds what its task needs (targets,
the teacher step, the hard loss, prediction) and its own parameter table.
"""

from __future__ import annotations

from skkd.estimators._classifier import DistilledClassifier
from skkd.estimators._regressor import DistilledRegressor

__all__ = ["DistilledClassifier", "DistilledRegressor"]
