"""Students and teachers to build by name: ``module="mlp"``, ``"tabular-mlp"``, ...

Every built-in model takes flat float rows ``(batch, n_features)``, so it works
after any scikit-learn transformer, and returns ``(batch, n_outputs)``. The
catalog below registers them through :func:`skkd.hookspecs.skkd_register_models`,
as a plugin's models would:

- ``"mlp"``: :class:`MLP`;
- ``"cnn-teacher"`` / ``"cnn-student"``: the Keras example's CNNs
  (:class:`KerasExampleCNN`);
- ``"tabular-mlp"``: :class:`TabularMLP`, numeric columns through embeddings
  and category codes through tables, for tables and tree teachers; its
  piecewise-linear bins come from :func:`fit_bins`;
- ``"torchvision:<name>"``: torchvision's classification architectures
  (:func:`torchvision_model`).
"""

from __future__ import annotations

from skkd.hookspecs import hookimpl
from skkd.models._bins import fit_bins, output_thresholds, tree_thresholds
from skkd.models._cnn import KerasExampleCNN, cnn_student, cnn_teacher, guess_image_shape
from skkd.models._mlp import MLP
from skkd.models._tabular import BIN_SOURCES, NUMERIC_ENCODINGS, TabularMLP
from skkd.models._torchvision import TorchvisionClassifier, torchvision_model

__all__ = [
    "BIN_SOURCES", "MLP", "NUMERIC_ENCODINGS", "KerasExampleCNN", "TabularMLP",
    "TorchvisionClassifier", "cnn_student", "cnn_teacher", "fit_bins", "guess_image_shape",
    "output_thresholds", "torchvision_model", "tree_thresholds",
]


@hookimpl
def skkd_register_models(register):
    register("mlp", MLP)
    register("cnn-teacher", cnn_teacher)
    register("cnn-student", cnn_student)
    register("torchvision:", torchvision_model)
    register("tabular-mlp", TabularMLP)
