"""scikit-learn's own estimator checks."""

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from skkd import DistilledClassifier, DistilledRegressor

# Each expected failure with its reason (at most two).
EXPECTED_FAILED_CHECKS: dict[str, str] = {}


@parametrize_with_checks(
    [DistilledClassifier(teacher=LogisticRegression()), DistilledRegressor(teacher=Ridge())],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
