"""ONNX export of a fitted student, as a scikit-learn classifier or regressor, through skl2onnx.

With the ``onnx`` extra installed (``pip install ".[onnx]"`` in a checkout), importing
:class:`~skkd.DistilledClassifier` or :class:`~skkd.DistilledRegressor`
registers a skl2onnx converter for it, so ``skl2onnx.to_onnx(model, X)``
converts a fitted estimator and any ``Pipeline`` that ends in one. The
student's graph is exported by ``torch.onnx``. For a classifier the converter
adds the softmax, the arg-max and the lookup of the original labels (strings
included), and skl2onnx its usual classifier options (``zipmap``, ``nocl``);
onnxruntime returns the labels ``predict`` returns, or the export is refused
(:func:`onnx_labels` says which labels ONNX can return, and with which
options). For a regressor it adds the de-standardization (``Mul`` by
``target_scale_``, ``Add`` of ``target_mean_``, in float64): one output,
``variable``, of shape ``(N, n_outputs_)`` (``(N, 1)`` for one target), as
skl2onnx's own regressors give, but float64, as ``predict`` returns (in
float32, targets near ``1e12`` would all round to the same few values). The
teacher is never part of the graph. A student fitted on a raw DataFrame, whose
columns it encodes itself (``columns_``), gets one input per column, as skl2onnx
converts a model of a DataFrame (``to_onnx(model, X=df)``), and nodes that read
the columns as the student does; :func:`compare_onnx` takes the DataFrame.
"""

from __future__ import annotations

from skkd.export._compare import compare_onnx
from skkd.export._convert import register_converter, to_onnx
from skkd.export._graph import TORCH_MAX_OPSET, student_graph
from skkd.export._labels import onnx_labels

__all__ = ["TORCH_MAX_OPSET", "compare_onnx", "onnx_labels", "register_converter",
           "student_graph", "to_onnx"]
