"""Tests of the "dkd" loss (Zhao et al., CVPR 2022), independent of the skkd estimator."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skkd_extra_losses import decoupled_kd

# --------------------------------------------------------------------------- reference


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max())
    return e / e.sum()


def _kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.sum(p * np.log(p / q)))


def reference_dkd(s, t, y, temperature, dkd_alpha, beta) -> float:
    """The paper's definitions, in probability space, one sample at a time."""
    s, t = np.asarray(s, dtype=float), np.asarray(t, dtype=float)
    total = 0.0
    for s_row, t_row, label in zip(s, t, y, strict=True):
        p_s, p_t = _softmax(s_row / temperature), _softmax(t_row / temperature)
        b_s = np.array([p_s[label], 1.0 - p_s[label]])
        b_t = np.array([p_t[label], 1.0 - p_t[label]])
        keep = np.arange(len(p_s)) != label
        hat_s = p_s[keep] / (1.0 - p_s[label])
        hat_t = p_t[keep] / (1.0 - p_t[label])
        total += dkd_alpha * _kl(b_t, b_s) + beta * _kl(hat_t, hat_s)
    return total / len(s) * temperature**2


def reference_kd(s, t, temperature) -> float:
    """Classical KD: batch-mean KL(softmax(t/T) || softmax(s/T)) * T**2."""
    s, t = np.asarray(s, dtype=float), np.asarray(t, dtype=float)
    kls = [
        _kl(_softmax(t_row / temperature), _softmax(s_row / temperature))
        for s_row, t_row in zip(s, t, strict=True)
    ]
    return float(np.mean(kls)) * temperature**2


def _t(values, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


S_2X3 = [[1.0, -0.5, 2.0], [0.3, 0.8, -1.2]]
T_2X3 = [[2.5, 0.1, 0.4], [-0.7, 1.9, 0.6]]
Y_2X3 = [0, 1]

# --------------------------------------------------------------------------- values


def test_hand_computed_binary_case():
    # p_teacher = [3/4, 1/4], p_student = [1/2, 1/2], T = 1: NCKD is 0 with two classes.
    expected = 0.75 * math.log(0.75 / 0.5) + 0.25 * math.log(0.25 / 0.5)
    got = decoupled_kd(
        _t([[0.0, 0.0]]), _t([[math.log(3.0), 0.0]]), temperature=1.0, y=torch.tensor([0])
    )
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_hand_computed_three_class_case():
    # p_teacher = [1/2, 1/4, 1/4], p_student = [1/3, 1/3, 1/3], T = 1, label 1:
    # b_t = [1/4, 3/4], b_s = [1/3, 2/3]; non-target {0, 2}: hat_t = [2/3, 1/3], hat_s = [1/2, 1/2].
    tckd = 0.25 * math.log(0.25 / (1 / 3)) + 0.75 * math.log(0.75 / (2 / 3))
    nckd = (2 / 3) * math.log((2 / 3) / 0.5) + (1 / 3) * math.log((1 / 3) / 0.5)
    s, t = _t([[0.0, 0.0, 0.0]]), _t([[math.log(2.0), 0.0, 0.0]])
    y = torch.tensor([1])
    assert decoupled_kd(s, t, temperature=1.0, y=y, dkd_alpha=1.0, beta=0.0).item() == (
        pytest.approx(tckd, rel=1e-12)
    )
    assert decoupled_kd(s, t, temperature=1.0, y=y, dkd_alpha=0.0, beta=1.0).item() == (
        pytest.approx(nckd, rel=1e-12)
    )
    assert decoupled_kd(s, t, temperature=1.0, y=y).item() == pytest.approx(
        tckd + 8.0 * nckd, rel=1e-12
    )


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0])
@pytest.mark.parametrize(("dkd_alpha", "beta"), [(1.0, 8.0), (1.5, 3.0), (0.0, 1.0), (2.0, 0.0)])
def test_matches_reference_on_2x3(temperature, dkd_alpha, beta):
    got = decoupled_kd(
        _t(S_2X3),
        _t(T_2X3),
        temperature=temperature,
        y=torch.tensor(Y_2X3),
        dkd_alpha=dkd_alpha,
        beta=beta,
    )
    expected = reference_dkd(S_2X3, T_2X3, Y_2X3, temperature, dkd_alpha, beta)
    assert got.item() == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_float32_matches_reference():
    got = decoupled_kd(
        _t(S_2X3, torch.float32),
        _t(T_2X3, torch.float32),
        temperature=2.0,
        y=torch.tensor(Y_2X3),
    )
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(reference_dkd(S_2X3, T_2X3, Y_2X3, 2.0, 1.0, 8.0), rel=1e-5)


def test_defaults_are_the_papers():
    s, t, y = _t(S_2X3), _t(T_2X3), torch.tensor(Y_2X3)
    assert torch.equal(
        decoupled_kd(s, t, temperature=4.0, y=y),
        decoupled_kd(s, t, temperature=4.0, y=y, dkd_alpha=1.0, beta=8.0),
    )


def test_returns_a_scalar():
    out = decoupled_kd(_t(S_2X3), _t(T_2X3), temperature=4.0, y=torch.tensor(Y_2X3))
    assert out.shape == ()


def test_accepts_numpy_and_int32_labels():
    s, t = _t(S_2X3), _t(T_2X3)
    expected = decoupled_kd(s, t, temperature=2.0, y=torch.tensor(Y_2X3))
    for y in (np.array(Y_2X3), torch.tensor(Y_2X3, dtype=torch.int32), [0, 1]):
        assert torch.allclose(decoupled_kd(s, t, temperature=2.0, y=y), expected)


# --------------------------------------------------------------------------- paper's properties


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 20.0])
def test_zero_when_student_equals_teacher(temperature):
    logits = torch.randn(16, 10, generator=torch.Generator().manual_seed(0)) * 5
    y = torch.randint(0, 10, (16,), generator=torch.Generator().manual_seed(1))
    out = decoupled_kd(logits, logits.clone(), temperature=temperature, y=y)
    assert out.item() == pytest.approx(0.0, abs=1e-6)


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_decomposition_of_classical_kd(temperature):
    """Paper, Eq. (1): KD = TCKD + (1 - p_target^teacher) * NCKD, for every sample."""
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(8, 5, generator=gen, dtype=torch.float64) * 3
    t = torch.randn(8, 5, generator=gen, dtype=torch.float64) * 3
    y = torch.randint(0, 5, (8,), generator=gen)
    for i in range(len(s)):
        si, ti, yi = s[i : i + 1], t[i : i + 1], y[i : i + 1]
        tckd = decoupled_kd(si, ti, temperature=temperature, y=yi, dkd_alpha=1.0, beta=0.0)
        nckd = decoupled_kd(si, ti, temperature=temperature, y=yi, dkd_alpha=0.0, beta=1.0)
        p_target = _softmax(ti[0].numpy() / temperature)[yi.item()]
        kd = reference_kd(si.numpy(), ti.numpy(), temperature)
        assert (tckd + (1.0 - p_target) * nckd).item() == pytest.approx(kd, rel=1e-10)
        # With the KD weight 1 - p_target replaced by beta = 1, DKD bounds KD from above.
        dkd_11 = decoupled_kd(si, ti, temperature=temperature, y=yi, dkd_alpha=1.0, beta=1.0)
        assert dkd_11.item() >= kd - 1e-12
        # And beta = 1 - p_target gives back classical KD exactly.
        dkd_kd = decoupled_kd(
            si, ti, temperature=temperature, y=yi, dkd_alpha=1.0, beta=1.0 - p_target
        )
        assert dkd_kd.item() == pytest.approx(kd, rel=1e-10)


def test_binary_classification_reduces_to_classical_kd():
    gen = torch.Generator().manual_seed(3)
    s = torch.randn(6, 2, generator=gen, dtype=torch.float64) * 4
    t = torch.randn(6, 2, generator=gen, dtype=torch.float64) * 4
    y = torch.randint(0, 2, (6,), generator=gen)
    got = decoupled_kd(s, t, temperature=3.0, y=y, dkd_alpha=1.0, beta=123.0)
    assert got.item() == pytest.approx(reference_kd(s.numpy(), t.numpy(), 3.0), rel=1e-10)


def test_tckd_ignores_non_target_structure_and_nckd_sees_it():
    # Swapping the student's two non-target logits keeps p_target, so TCKD is 0;
    # NCKD is not, because the non-target distribution changed.
    t = _t([[2.0, 1.0, -1.0]])
    s = _t([[2.0, -1.0, 1.0]])
    y = torch.tensor([0])
    assert decoupled_kd(s, t, temperature=2.0, y=y, dkd_alpha=1.0, beta=0.0).item() == (
        pytest.approx(0.0, abs=1e-12)
    )
    assert decoupled_kd(s, t, temperature=2.0, y=y, dkd_alpha=0.0, beta=1.0).item() > 0.1


def test_gradient_matches_reference_finite_differences():
    s = _t(S_2X3).requires_grad_(True)
    t, y = _t(T_2X3), torch.tensor(Y_2X3)
    assert torch.autograd.gradcheck(
        lambda x: decoupled_kd(x, t, temperature=2.0, y=y, dkd_alpha=1.5, beta=3.0), (s,)
    )


def test_large_logits_stay_finite_and_exact():
    # |z| / T = 4000: masking the target with "- 1000" would not remove it here.
    s = _t([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 500.0]], torch.float32)
    t = _t([[-1000.0, 1000.0, 0.0], [1000.0, -1000.0, 990.0]], torch.float32)
    s.requires_grad_(True)
    y = torch.tensor([0, 1])
    out = decoupled_kd(s, t, temperature=0.5, y=y)
    out.backward()
    assert torch.isfinite(out)
    assert torch.isfinite(s.grad).all()
    # The numpy reference underflows here (1 - p_target == 0), so check NCKD by hand.
    # Row 0, label 0: non-target logits /T: student [-2000, 0], teacher [2000, 0]
    # -> hat_s = [0, 1], hat_t = [1, 0] up to e^-2000: NCKD = log(1 / hat_s[0]) = 2000.
    nckd = decoupled_kd(s[:1].detach(), t[:1], temperature=0.5, y=y[:1], dkd_alpha=0.0, beta=1.0)
    assert nckd.item() == pytest.approx(2000.0 * 0.25, rel=1e-6)


# --------------------------------------------------------------------------- errors


def test_without_labels_raises():
    with pytest.raises(ValueError, match="dkd.*needs labels"):
        decoupled_kd(_t(S_2X3), _t(T_2X3), temperature=4.0)


@pytest.mark.parametrize(
    ("y", "match"),
    [
        (torch.tensor([0.0, 1.0]), "integer class labels"),
        (torch.tensor([0, 1, 2]), "3 labels for a batch of 2"),
        (torch.tensor([0, 3]), r"labels must lie in \[0, 3\)"),
        (torch.tensor([-2, 0]), r"labels must lie in \[0, 3\)"),
    ],
)
def test_bad_labels_raise(y, match):
    with pytest.raises(ValueError, match=match):
        decoupled_kd(_t(S_2X3), _t(T_2X3), temperature=4.0, y=y)


def test_a_row_without_a_label_splits_at_the_teachers_top_class():
    s, t = _t(S_2X3), _t(T_2X3)
    top = t.argmax(dim=1)
    np.testing.assert_allclose(
        decoupled_kd(s, t, temperature=4.0, y=torch.tensor([-1, -1])).item(),
        decoupled_kd(s, t, temperature=4.0, y=top).item(), rtol=1e-6)
    mixed = torch.tensor([-1, int(top[1]) - 1 if top[1] > 0 else 1])
    expected = decoupled_kd(s, t, temperature=4.0, y=torch.stack([top[0], mixed[1]]))
    assert decoupled_kd(s, t, temperature=4.0, y=mixed).item() == pytest.approx(
        expected.item(), rel=1e-6)


def test_bad_shapes_and_temperature_raise():
    y = torch.tensor(Y_2X3)
    with pytest.raises(ValueError, match="same shape"):
        decoupled_kd(_t(S_2X3), _t(T_2X3)[:, :2], temperature=4.0, y=y)
    with pytest.raises(ValueError, match="temperature"):
        decoupled_kd(_t(S_2X3), _t(T_2X3), temperature=0.0, y=y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        decoupled_kd(_t([[1.0], [2.0]]), _t([[1.0], [2.0]]), temperature=1.0, y=[0, 0])


def test_unknown_option_raises_type_error():
    with pytest.raises(TypeError):
        decoupled_kd(_t(S_2X3), _t(T_2X3), temperature=4.0, y=torch.tensor(Y_2X3), gamma=1.0)


# --------------------------------------------------------------------------- hypothesis


@st.composite
def _logit_pairs(draw, dtype=np.float32):
    batch = draw(st.integers(1, 5))
    n_classes = draw(st.integers(2, 6))
    elements = st.floats(-1e3, 1e3, allow_nan=False, width=32)
    s = draw(arrays(dtype, (batch, n_classes), elements=elements))
    t = draw(arrays(dtype, (batch, n_classes), elements=elements))
    y = draw(arrays(np.int64, (batch,), elements=st.integers(0, n_classes - 1)))
    return s, t, y


@settings(max_examples=50, deadline=None)
@given(
    pair=_logit_pairs(),
    temperature=st.floats(0.5, 20.0),
    dkd_alpha=st.floats(0.0, 10.0),
    beta=st.floats(0.0, 10.0),
)
def test_finite_value_and_gradient(pair, temperature, dkd_alpha, beta):
    s_np, t_np, y_np = pair
    s = torch.from_numpy(s_np).requires_grad_(True)
    out = decoupled_kd(
        s,
        torch.from_numpy(t_np),
        temperature=temperature,
        y=torch.from_numpy(y_np),
        dkd_alpha=dkd_alpha,
        beta=beta,
    )
    out.backward()
    assert torch.isfinite(out)
    assert torch.isfinite(s.grad).all()


@settings(max_examples=50, deadline=None)
@given(pair=_logit_pairs(), temperature=st.floats(0.5, 20.0))
def test_non_negative_and_zero_on_identical_inputs(pair, temperature):
    s_np, t_np, y_np = pair
    s = torch.from_numpy(s_np.astype(np.float64))
    t = torch.from_numpy(t_np.astype(np.float64))
    y = torch.from_numpy(y_np)
    assert decoupled_kd(s, t, temperature=temperature, y=y).item() >= -1e-9
    assert decoupled_kd(t, t.clone(), temperature=temperature, y=y).item() == pytest.approx(
        0.0, abs=1e-9
    )
