"""mixed_precision: the student's training passes autocast, the loss stays float32.

CPU autocast supports both dtypes, so these run everywhere; on CUDA the same
code paths run with tensor cores.
"""

import numpy as np
import pytest
import torch
from skorch.callbacks import Callback, GradientNormClipping

from skkd import DistilledClassifier, DistilledRegressor
from skkd.augmentations._batches import augment_batch, check_deferred_values
from skkd.exceptions import InvalidParameterError, PluginError


class RecordingLoss:
    """The KL loss, recording the dtype of the student logits it receives."""

    def __init__(self):
        self.dtypes = set()

    def __call__(self, student_logits, teacher_logits, *, temperature, y=None):
        from skkd.losses import kl_divergence

        self.dtypes.add(student_logits.dtype)
        return kl_divergence(student_logits, teacher_logits, temperature=temperature)


class LayerDtypes(Callback):
    """Records the dtype the student's first layer computes in, per training batch."""

    def on_train_begin(self, net, **kwargs):
        self.dtypes = set()
        layer = next(m for m in net.module_.modules() if isinstance(m, torch.nn.Linear))
        layer.register_forward_hook(lambda m, i, o: self.dtypes.add(o.dtype))


class GradNorms(Callback):
    def on_train_begin(self, net, **kwargs):
        self.norms = []

    def on_grad_computed(self, net, named_parameters, **kwargs):
        self.norms.append(float(torch.linalg.vector_norm(
            torch.cat([p.grad.flatten() for _, p in named_parameters]))))


@pytest.mark.parametrize(("precision", "dtype"), [("bf16", torch.bfloat16),
                                                   ("fp16", torch.float16)])
def test_the_forward_pass_autocasts_and_the_loss_is_float32(precision, dtype, digits,
                                                            lr_teacher):
    X_train, X_test, y_train, y_test = digits
    loss, layer = RecordingLoss(), LayerDtypes()
    clf = DistilledClassifier(lr_teacher, loss=loss, mixed_precision=precision, max_epochs=8,
                              alpha=0.5, temperature=2.0, callbacks=[layer], random_state=0)
    clf.fit(X_train, y_train)
    assert dtype in layer.dtypes  # training forward passes
    assert loss.dtypes == {torch.float32}
    assert np.isfinite(clf.history_[:, "train_loss"]).all()
    assert clf.score(X_test, y_test) > 0.85
    # predict runs in float32: the softmax of the student's float32 forward pass
    with torch.inference_mode():
        logits = clf.net_.module_.eval()(torch.from_numpy(X_test)).double()
    np.testing.assert_allclose(clf.predict_proba(X_test), torch.softmax(logits, 1).numpy(),
                               rtol=1e-12)
    assert (getattr(clf.net_, "grad_scaler_", None) is not None) == (precision == "fp16")


def test_fp16_callbacks_see_unscaled_gradients(digits, lr_teacher):
    X_train, _, y_train, _ = digits
    norms = {}
    for precision in (None, "fp16"):
        recorder = GradNorms()
        DistilledClassifier(lr_teacher, mixed_precision=precision, max_epochs=1,
                            callbacks=[recorder, GradientNormClipping(1.0)],
                            random_state=0).fit(X_train, y_train)
        norms[precision] = np.median(recorder.norms)
    # the scaler multiplies the loss by 2**16: unscaled, the norms agree to fp16 rounding
    assert norms["fp16"] == pytest.approx(norms[None], rel=0.05)


def test_a_regressor_trains_in_bf16(digits):
    from sklearn.linear_model import Ridge

    X_train, X_test, y_train, y_test = digits
    teacher = Ridge().fit(X_train, y_train.astype(float))
    reg = DistilledRegressor(teacher, mixed_precision="bf16", max_epochs=10, random_state=0)
    reg.fit(X_train, y_train.astype(float))
    assert reg.predict(X_test).dtype == np.float64
    assert reg.score(X_test, y_test.astype(float)) > 0.5


def test_an_unknown_precision_names_the_parameter(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(InvalidParameterError,
                       match="'mixed_precision' parameter.*'bf16' or 'fp16'.*Got 'float8'"):
        DistilledClassifier(mixed_precision="float8", max_epochs=1).fit(X_train, y_train)


def test_deferred_augmentation_checks_are_read_once_and_name_the_plugin():
    class Broken:
        def augment_batch(self, xb, yb):
            return xb * float("nan"), yb + 5

    checks: list = []
    xb, yb = torch.zeros(4, 3), torch.zeros(4, dtype=torch.int64)
    augment_batch(Broken(), xb, yb, 3, deferred=checks)  # appends, does not raise
    assert len(checks) == 1
    check_deferred_values(checks[:0], Broken(), 3, "epoch 1")  # nothing recorded: nothing to say
    with pytest.raises(PluginError, match=r"Broken returned labels outside -1\.\.2 and rows "
                                          r"holding NaN or infinity in a batch of epoch 2"):
        check_deferred_values(checks, Broken(), 3, "epoch 2")
    with pytest.raises(PluginError, match="labels outside"):  # at once without deferred
        augment_batch(Broken(), xb, yb, 3)
