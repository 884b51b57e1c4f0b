"""skkd: knowledge distillation as a scikit-learn estimator."""

__version__ = "0.1.0"

from skkd.estimator import DistilledClassifier  # noqa: E402
from skkd.hookspecs import hookimpl  # noqa: E402
from skkd.plugins import list_plugins  # noqa: E402

__all__ = ["DistilledClassifier", "hookimpl", "list_plugins", "__version__"]
