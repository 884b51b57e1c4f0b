import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skkd.losses import kl_divergence, logit_mse, soft_cross_entropy
from skkd.plugins import get_loss


def _softmax(row, T):
    e = [math.exp(v / T) for v in row]
    return [v / sum(e) for v in e]


def test_kl_matches_hand_computed_value():
    s = [[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
    t = [[3.0, 2.0, 1.0], [1.0, 0.0, -1.0]]
    T = 2.0
    expected = 0.0
    for srow, trow in zip(s, t, strict=True):
        p, q = _softmax(trow, T), _softmax(srow, T)
        expected += sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True))
    expected = expected / 2 * T**2
    got = kl_divergence(torch.tensor(s), torch.tensor(t), temperature=T)
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_soft_ce_is_kl_plus_teacher_entropy():
    s = torch.tensor([[0.5, -1.0, 2.0]])
    t = torch.tensor([[1.0, 1.5, -0.5]])
    T = 3.0
    p = _softmax([1.0, 1.5, -0.5], T)
    entropy = -sum(pi * math.log(pi) for pi in p)
    kl = kl_divergence(s, t, temperature=T).item()
    assert soft_cross_entropy(s, t, temperature=T).item() == pytest.approx(
        kl + entropy * T**2, rel=1e-5
    )


def test_mse_is_mean_squared_logit_difference_and_ignores_temperature():
    s = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    t = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    expected = (1 + 4 + 4 + 9) / 4
    assert logit_mse(s, t, temperature=1.0).item() == pytest.approx(expected)
    assert logit_mse(s, t, temperature=7.0).item() == pytest.approx(expected)


def test_builtin_losses_are_registered_by_name():
    assert get_loss("kl") is kl_divergence
    assert get_loss("soft_ce") is soft_cross_entropy
    assert get_loss("mse") is logit_mse


logits = arrays(
    np.float32,
    st.tuples(st.integers(1, 6), st.integers(2, 8)),
    elements=st.floats(-1e3, 1e3, width=32),
)


@settings(max_examples=60, deadline=None)
@given(x=logits, T=st.floats(0.1, 50))
def test_kl_of_identical_logits_is_zero(x, T):
    t = torch.from_numpy(x)
    assert kl_divergence(t.clone(), t, temperature=T).item() == pytest.approx(0, abs=1e-3)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), T=st.floats(0.1, 50), name=st.sampled_from(["kl", "soft_ce", "mse"]))
def test_losses_are_finite_with_finite_gradients_at_extreme_logits(data, T, name):
    s_np = data.draw(logits)
    t_np = data.draw(arrays(np.float32, s_np.shape, elements=st.floats(-1e3, 1e3, width=32)))
    s = torch.from_numpy(s_np).requires_grad_(True)
    t = torch.from_numpy(t_np)
    value = get_loss(name)(s, t, temperature=T)
    value.backward()
    assert value.ndim == 0 and torch.isfinite(value)
    assert torch.isfinite(s.grad).all()
    if name != "mse":
        assert value.item() >= -1e-3  # KL and soft CE are non-negative (up to rounding)


def test_kl_is_finite_at_magnitude_100_and_beyond():
    s = torch.tensor([[200.0, -200.0, 0.0]], requires_grad=True)
    t = torch.tensor([[-150.0, 150.0, 0.0]])
    value = kl_divergence(s, t, temperature=1.0)
    value.backward()
    # Almost all teacher mass is on class 1, where the student's log-prob is -400.
    assert value.item() == pytest.approx(400.0, rel=1e-4)
    assert torch.isfinite(s.grad).all()


def _kl_reference(s: np.ndarray, t: np.ndarray, T: float) -> float:
    """``KL * T**2``, batch mean, in extended precision (numpy's longdouble)."""
    s, t = s.astype(np.longdouble) / T, t.astype(np.longdouble) / T
    log_q = s - s.max(1, keepdims=True)
    log_q -= np.log(np.exp(log_q).sum(1, keepdims=True))
    log_p = t - t.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    return float((np.exp(log_p) * (log_p - log_q)).sum(1).mean() * T**2)


@settings(max_examples=60, deadline=None)
@given(x=logits, T=st.sampled_from([1e-4, 0.1, 1.0, 10.0, 100.0, 1e3, 1e4]),
       gap=st.sampled_from([1e-3, 0.1, 1.0]))
def test_kl_is_exact_and_non_negative_over_the_accepted_temperatures(x, T, gap):
    # Close distributions at large T are where float32 lost every digit (and went
    # negative at T=1e4): the value must match an extended-precision reference.
    s = torch.from_numpy(x)
    t = s + gap * torch.linspace(-1, 1, x.shape[1])
    value = kl_divergence(s, t, temperature=T).item()
    expected = _kl_reference(s.numpy(), t.numpy(), T)
    assert value >= 0
    assert value == pytest.approx(expected, rel=1e-4, abs=1e-7)


def test_weighted_losses_sum_the_rows_losses_with_their_weights():
    s = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [2.0, -1.0, 0.5]])
    t = torch.tensor([[3.0, 2.0, 1.0], [1.0, 0.0, -1.0], [0.0, 0.0, 1.0]])
    w = torch.tensor([0.25, 0.75, 0.0])
    for name in ("kl", "soft_ce", "mse"):
        fn = get_loss(name)
        rows = [fn(s[i : i + 1], t[i : i + 1], temperature=2.0).item() for i in range(3)]
        got = fn(s, t, temperature=2.0, sample_weight=w).item()
        assert got == pytest.approx(0.25 * rows[0] + 0.75 * rows[1], rel=1e-6), name
        assert fn(s, t, temperature=2.0).item() == pytest.approx(sum(rows) / 3, rel=1e-6)
