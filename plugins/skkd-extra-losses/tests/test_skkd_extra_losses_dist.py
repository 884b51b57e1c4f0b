"""Tests of the "dist" loss (Huang et al., NeurIPS 2022), independent of the skkd estimator."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skkd_extra_losses import dist, pearson

# --------------------------------------------------------------------------- reference


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def reference_dist(s, t, temperature, beta, gamma) -> float:
    """The paper's definition with numpy's Pearson correlation (np.corrcoef)."""
    p_s = _softmax_rows(np.asarray(s, dtype=float) / temperature)
    p_t = _softmax_rows(np.asarray(t, dtype=float) / temperature)
    inter = np.mean([1.0 - np.corrcoef(a, b)[0, 1] for a, b in zip(p_s, p_t, strict=True)])
    intra = np.mean([1.0 - np.corrcoef(a, b)[0, 1] for a, b in zip(p_s.T, p_t.T, strict=True)])
    return float(beta * inter + gamma * intra) * temperature**2


def _t(values, dtype=torch.float64) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype)


S_2X3 = [[1.0, -0.5, 2.0], [0.3, 0.8, -1.2]]
T_2X3 = [[2.5, 0.1, 0.4], [-0.7, 1.9, 0.6]]

# --------------------------------------------------------------------------- values


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0])
@pytest.mark.parametrize(("beta", "gamma"), [(1.0, 1.0), (1.5, 0.5), (0.0, 1.0), (2.0, 0.0)])
def test_matches_reference_on_2x3(temperature, beta, gamma):
    got = dist(_t(S_2X3), _t(T_2X3), temperature=temperature, beta=beta, gamma=gamma)
    expected = reference_dist(S_2X3, T_2X3, temperature, beta, gamma)
    assert got.item() == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_hand_computed_two_by_two_cases():
    # With two classes (or two samples), centring leaves +-d, so each Pearson
    # correlation is +1 or -1: the sign of agreement.
    teacher = _t([[1.0, 0.0], [0.0, 3.0]])
    # Same argmax per sample, same ordering of the samples per class: 0 although the
    # probabilities differ.
    agreeing = _t([[2.0, 0.0], [0.0, 1.0]])
    assert dist(agreeing, teacher, temperature=1.0).item() == pytest.approx(0.0, abs=1e-12)
    # Sample 0 flips its argmax (inter: (2 + 0) / 2 = 1); for both classes the two
    # samples swap order (intra: (2 + 2) / 2 = 2). T = 3: 9 * (beta * 1 + gamma * 2).
    flipped = _t([[0.0, 2.0], [0.0, 1.0]])
    got = dist(flipped, teacher, temperature=3.0, beta=0.5, gamma=0.25)
    assert got.item() == pytest.approx(9.0 * (0.5 * 1.0 + 0.25 * 2.0), rel=1e-12)


def test_float32_matches_reference():
    got = dist(_t(S_2X3, torch.float32), _t(T_2X3, torch.float32), temperature=2.0)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(reference_dist(S_2X3, T_2X3, 2.0, 1.0, 1.0), rel=1e-5)


def test_defaults_are_the_papers():
    s, t = _t(S_2X3), _t(T_2X3)
    assert torch.equal(
        dist(s, t, temperature=4.0), dist(s, t, temperature=4.0, beta=1.0, gamma=1.0)
    )


def test_returns_a_scalar_and_ignores_labels():
    s, t = _t(S_2X3), _t(T_2X3)
    out = dist(s, t, temperature=4.0)
    assert out.shape == ()
    assert torch.equal(out, dist(s, t, temperature=4.0, y=torch.tensor([0, 1])))


def test_gradient_matches_finite_differences():
    s = _t(S_2X3).requires_grad_(True)
    t = _t(T_2X3)
    assert torch.autograd.gradcheck(
        lambda x: dist(x, t, temperature=2.0, beta=1.5, gamma=0.5), (s,)
    )


# --------------------------------------------------------------------------- pearson helper


def test_pearson_matches_numpy_and_is_affine_invariant():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(4, 7, generator=gen, dtype=torch.float64)
    b = torch.randn(4, 7, generator=gen, dtype=torch.float64)
    expected = [np.corrcoef(x, y)[0, 1] for x, y in zip(a.numpy(), b.numpy(), strict=True)]
    np.testing.assert_allclose(pearson(a, b).numpy(), expected, rtol=1e-12)
    # The relation DIST matches is invariant to positive scaling and shifting ...
    np.testing.assert_allclose(pearson(3.0 * a + 2.0, 0.1 * b - 5.0).numpy(), expected, rtol=1e-10)
    # ... and flips sign under negative scaling.
    np.testing.assert_allclose(pearson(-2.0 * a, b).numpy(), -np.array(expected), rtol=1e-10)


def test_pearson_of_constant_rows_is_zero_with_finite_gradient():
    a = torch.ones(2, 4, dtype=torch.float64, requires_grad=True)
    b = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0]], dtype=torch.float64)
    r = pearson(a, b)
    r.sum().backward()
    assert torch.equal(r, torch.zeros(2, dtype=torch.float64))
    assert torch.isfinite(a.grad).all()


# --------------------------------------------------------------------------- paper's properties


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 20.0])
def test_zero_when_student_equals_teacher(temperature):
    logits = torch.randn(16, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert dist(logits, logits.clone(), temperature=temperature).item() == pytest.approx(
        0.0, abs=1e-6
    )
    f32 = logits.float()
    assert dist(f32, f32.clone(), temperature=temperature).item() == pytest.approx(
        0.0, abs=1e-6 * temperature**2
    )


def test_positive_when_predictions_differ():
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(16, 10, generator=gen, dtype=torch.float64)
    t = torch.randn(16, 10, generator=gen, dtype=torch.float64)
    for beta, gamma in [(1.0, 1.0), (1.0, 0.0), (0.0, 1.0)]:
        assert dist(s, t, temperature=2.0, beta=beta, gamma=gamma).item() > 0.1


@pytest.mark.parametrize("k", [1.0, 0.5, 0.1])
def test_zero_when_student_is_teacher_mixed_with_uniform(k):
    """Exact matching relaxed: p_s = k * p_t + (1 - k) / C is a positive affine map
    of p_t (row- and column-wise), so DIST is 0 while KL is not."""
    temperature = 2.0
    gen = torch.Generator().manual_seed(2)
    t = torch.randn(8, 5, generator=gen, dtype=torch.float64) * 2
    p_t = torch.softmax(t / temperature, dim=1)
    s = temperature * torch.log(k * p_t + (1.0 - k) / 5)
    assert dist(s, t, temperature=temperature).item() == pytest.approx(0.0, abs=1e-9)
    if k < 1.0:
        kl = torch.nn.functional.kl_div(
            torch.log_softmax(s / temperature, 1), p_t, reduction="batchmean"
        )
        assert kl.item() > 1e-3


def test_invariant_to_permuting_samples_and_classes_jointly():
    gen = torch.Generator().manual_seed(3)
    s = torch.randn(9, 6, generator=gen, dtype=torch.float64)
    t = torch.randn(9, 6, generator=gen, dtype=torch.float64)
    rows, cols = torch.randperm(9, generator=gen), torch.randperm(6, generator=gen)
    base = dist(s, t, temperature=2.0, beta=1.0, gamma=0.7)
    permuted = dist(s[rows][:, cols], t[rows][:, cols], temperature=2.0, beta=1.0, gamma=0.7)
    assert permuted.item() == pytest.approx(base.item(), rel=1e-12)


def test_invariant_to_per_sample_logit_shift():
    gen = torch.Generator().manual_seed(4)
    s = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    t = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    shift = torch.randn(6, 1, generator=gen, dtype=torch.float64) * 50
    assert dist(s + shift, t - shift, temperature=3.0).item() == pytest.approx(
        dist(s, t, temperature=3.0).item(), rel=1e-10
    )


def test_intra_term_of_a_single_sample_is_a_constant():
    """One sample: every class column is constant, correlates 0, and costs gamma * T**2."""
    s = _t([[1.0, 2.0, 0.5]]).requires_grad_(True)
    t = _t([[0.0, -1.0, 3.0]])
    out = dist(s, t, temperature=2.0, beta=0.0, gamma=0.5)
    out.backward()
    assert out.item() == pytest.approx(0.5 * 4.0, rel=1e-12)
    assert torch.equal(s.grad, torch.zeros_like(s))


def test_scales_with_temperature_squared_on_the_probabilities():
    # Same probabilities at T and at 2T (logits doubled): the value scales by 4.
    s, t = _t(S_2X3), _t(T_2X3)
    assert dist(2 * s, 2 * t, temperature=2.0).item() == pytest.approx(
        4.0 * dist(s, t, temperature=1.0).item(), rel=1e-12
    )


# --------------------------------------------------------------------------- errors


def test_bad_shapes_and_temperature_raise():
    with pytest.raises(ValueError, match="same shape"):
        dist(_t(S_2X3), _t(T_2X3)[:, :2], temperature=4.0)
    with pytest.raises(ValueError, match=r"\(batch, n_classes\)"):
        dist(_t([1.0, 2.0]), _t([1.0, 2.0]), temperature=4.0)
    with pytest.raises(ValueError, match="temperature"):
        dist(_t(S_2X3), _t(T_2X3), temperature=-1.0)


def test_unknown_option_raises_type_error():
    with pytest.raises(TypeError):
        dist(_t(S_2X3), _t(T_2X3), temperature=4.0, dkd_alpha=1.0)


# --------------------------------------------------------------------------- hypothesis


@st.composite
def _logit_pairs(draw):
    batch = draw(st.integers(1, 5))
    n_classes = draw(st.integers(2, 6))
    elements = st.floats(-1e3, 1e3, allow_nan=False, width=32)
    s = draw(arrays(np.float32, (batch, n_classes), elements=elements))
    t = draw(arrays(np.float32, (batch, n_classes), elements=elements))
    return s, t


@settings(max_examples=50, deadline=None)
@given(
    pair=_logit_pairs(),
    temperature=st.floats(0.5, 20.0),
    beta=st.floats(0.0, 10.0),
    gamma=st.floats(0.0, 10.0),
)
def test_finite_bounded_value_and_finite_gradient(pair, temperature, beta, gamma):
    s_np, t_np = pair
    s = torch.from_numpy(s_np).requires_grad_(True)
    out = dist(s, torch.from_numpy(t_np), temperature=temperature, beta=beta, gamma=gamma)
    out.backward()
    assert torch.isfinite(out)
    assert torch.isfinite(s.grad).all()
    bound = 2.0 * (beta + gamma) * temperature**2
    assert -1e-4 * (1.0 + bound) <= out.item() <= bound * (1.0 + 1e-5) + 1e-4


@settings(max_examples=50, deadline=None)
@given(pair=_logit_pairs(), temperature=st.floats(0.5, 20.0))
def test_identical_inputs_cost_only_their_constant_rows_and_columns(pair, temperature):
    """Identical inputs give 0 unless a compared row or column does not vary
    (then that one costs exactly 1, as with any student)."""
    _, t_np = pair
    t = torch.from_numpy(t_np.astype(np.float64))
    p = torch.softmax(t / temperature, dim=1)
    row_var = (p - p.mean(1, keepdim=True)).pow(2).sum(1)
    col_var = (p - p.mean(0, keepdim=True)).pow(2).sum(0)
    expected = float((row_var == 0).double().mean() + (col_var == 0).double().mean())
    # Near-degenerate rows or columns: the 1e-8 floor makes the correlation fall below 1.
    assume(not ((row_var > 0) & (row_var < 1e-6)).any())
    assume(not ((col_var > 0) & (col_var < 1e-6)).any())
    got = dist(t, t.clone(), temperature=temperature).item() / temperature**2
    assert got == pytest.approx(expected, abs=1e-9)
