"""dlref.models.capsule: squash, routing by agreement and the margin loss, against the paper's formulas."""

import numpy as np
import pytest
import torch

from dlref.gradcheck import numerical_gradients, relative_error
from dlref.models.capsule import dynamic_routing, margin_loss, margin_loss_backward, squash, squash_backward


def _torch_squash(s: torch.Tensor, dim: int) -> torch.Tensor:
    # eq. 1 of the paper as written: ||s||^2 / (1 + ||s||^2) * s / ||s||
    n2 = (s * s).sum(dim=dim, keepdim=True)
    return n2 / (1 + n2) * s / torch.sqrt(n2)


def _torch_margin_loss(v: torch.Tensor, targets: torch.Tensor, m_plus=0.9, m_minus=0.1, lam=0.5):
    # eq. 4, summed over classes, averaged over the batch
    lengths = torch.linalg.vector_norm(v, dim=2)
    T = torch.nn.functional.one_hot(targets, v.shape[1]).to(v.dtype)
    per_class = (T * torch.clamp(m_plus - lengths, min=0) ** 2
                 + lam * (1 - T) * torch.clamp(lengths - m_minus, min=0) ** 2)
    return per_class.sum(dim=1).mean()


def _routing_by_loops(u_hat: np.ndarray, num_iterations: int):
    """Procedure 1 of Sabour et al. written entry by entry, for one example."""
    n_in, n_out, _ = u_hat.shape
    b = np.zeros((n_in, n_out))
    for _ in range(num_iterations):
        c = np.exp(b) / np.exp(b).sum(axis=1, keepdims=True)
        v = []
        for j in range(n_out):
            s_j = sum(c[i, j] * u_hat[i, j] for i in range(n_in))
            norm = np.linalg.norm(s_j)
            v.append(norm**2 / (1 + norm**2) * s_j / norm)
        for i in range(n_in):
            for j in range(n_out):
                b[i, j] += u_hat[i, j] @ v[j]
    return np.array(v), c


@pytest.mark.parametrize("shape, axis", [((5,), -1), ((4, 3), -1), ((2, 3, 6), 1), ((3, 2, 4), 0)])
def test_squash_length_is_squared_norm_over_one_plus_squared_norm(shape, axis):
    s = np.random.default_rng(0).normal(scale=2.0, size=shape)
    v = squash(s, axis=axis)
    norm_s = np.linalg.norm(s, axis=axis)
    np.testing.assert_allclose(np.linalg.norm(v, axis=axis), norm_s**2 / (1 + norm_s**2), rtol=1e-14)
    # direction kept: v is a positive multiple of s
    cosine = np.sum(v * s, axis=axis) / (np.linalg.norm(v, axis=axis) * norm_s)
    np.testing.assert_allclose(cosine, 1.0, rtol=1e-14)
    assert (np.linalg.norm(v, axis=axis) < 1).all()


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_squash_and_its_backward_match_torch(axis):
    rng = np.random.default_rng(1)
    s = rng.normal(scale=1.5, size=(4, 5, 3))
    dv = rng.normal(size=s.shape)
    st = torch.tensor(s, requires_grad=True)
    vt = _torch_squash(st, axis)
    (grad_t,) = torch.autograd.grad(vt, st, torch.tensor(dv))
    np.testing.assert_allclose(squash(s, axis), vt.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(squash_backward(dv, s, axis), grad_t.numpy(), rtol=1e-10, atol=1e-12)


def test_squash_backward_matches_finite_differences():
    rng = np.random.default_rng(2)
    s = rng.normal(size=(3, 4, 5))
    s[0, 0] *= 1e-3  # a short vector, where the radial term is nearly 0/0
    s[1, 2] *= 20.0  # a long one, where squash saturates
    dv = rng.normal(size=s.shape)
    for axis in (-1, 1):
        [numeric] = numerical_gradients(lambda a: squash(a, axis), [s], dv)
        assert relative_error(squash_backward(dv, s, axis), numeric) < 1e-7


def test_squash_of_zero_is_zero_with_a_finite_gradient():
    s = np.zeros((2, 3))
    dv = np.ones((2, 3))
    np.testing.assert_array_equal(squash(s), s)
    # squash(s) ~ |s| s near 0, so the Jacobian at 0 is exactly 0
    np.testing.assert_array_equal(squash_backward(dv, s), np.zeros((2, 3)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_squash_keeps_dtype_and_is_finite_at_1e4(dtype):
    s = np.array([[1e4, -1e4], [1e-4, 0.0]], dtype=dtype)
    v = squash(s)
    assert v.dtype == dtype and squash_backward(np.ones_like(s), s).dtype == dtype
    assert np.isfinite(v).all()
    np.testing.assert_allclose(np.linalg.norm(v[0]), 2e8 / (1 + 2e8), rtol=1e-6)


def _agreeing_predictions(rng, n_in=12, n_out=3, d_out=16, length=2.0):
    """Predictions of one length: inputs 0-7 agree on output 0 (one direction plus small noise), inputs
    8-11 on output 2; every other prediction points in a random direction."""
    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    u_hat = unit(rng.normal(size=(1, n_in, n_out, d_out)))
    u_hat[0, :8, 0] = unit(rng.normal(size=d_out) + 0.05 * rng.normal(size=(8, d_out)))
    u_hat[0, 8:, 2] = unit(rng.normal(size=d_out) + 0.05 * rng.normal(size=(n_in - 8, d_out)))
    return length * u_hat


def test_routing_gives_the_coupling_to_agreeing_predictions():
    u_hat = _agreeing_predictions(np.random.default_rng(3))
    previous = None
    for iterations in (1, 2, 3, 5):
        v, c = dynamic_routing(u_hat, num_iterations=iterations)
        if iterations == 1:
            np.testing.assert_allclose(c, 1 / 3)
        else:
            # each agreeing input sends ever more of its vote to the output it agrees on
            assert (c[0, :8, 0] > previous[0, :8, 0]).all() and (c[0, 8:, 2] > previous[0, 8:, 2]).all()
        previous = c
    assert (c[0, :8].argmax(axis=1) == 0).all() and (c[0, 8:].argmax(axis=1) == 2).all()
    assert (c[0, :8, 0] > 0.8).all()
    lengths = np.linalg.norm(v[0], axis=1)
    assert lengths[0] > lengths[1] and lengths[2] > lengths[1]


@pytest.mark.parametrize("num_iterations", [1, 3, 4])
def test_routing_matches_the_procedure_written_with_loops(num_iterations):
    rng = np.random.default_rng(4)
    u_hat = rng.normal(size=(3, 5, 4, 2))
    v, c = dynamic_routing(u_hat, num_iterations)
    assert v.shape == (3, 4, 2) and c.shape == (3, 5, 4)
    for n in range(3):
        v_loop, c_loop = _routing_by_loops(u_hat[n], num_iterations)
        np.testing.assert_allclose(v[n], v_loop, rtol=1e-12)
        np.testing.assert_allclose(c[n], c_loop, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_couplings_sum_to_one_over_outputs_and_lengths_stay_below_one(dtype):
    u_hat = np.random.default_rng(5).normal(scale=3.0, size=(4, 7, 5, 3)).astype(dtype)
    v, c = dynamic_routing(u_hat)
    assert v.dtype == dtype and c.dtype == dtype
    np.testing.assert_allclose(c.sum(axis=2), 1.0, rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert (c >= 0).all()
    assert (np.linalg.norm(v, axis=2) < 1).all()


def _margin_case(rng, n=5, k=4, d=3):
    v = rng.normal(scale=0.4, size=(n, k, d))
    targets = rng.integers(0, k, size=n)
    return v, targets


@pytest.mark.parametrize("kwargs", [{}, {"m_plus": 0.8, "m_minus": 0.2, "lam": 0.25}])
def test_margin_loss_and_backward_match_torch(kwargs):
    v, targets = _margin_case(np.random.default_rng(6))
    vt = torch.tensor(v, requires_grad=True)
    loss_t = _torch_margin_loss(vt, torch.tensor(targets), **kwargs)
    (grad_t,) = torch.autograd.grad(loss_t, vt)
    np.testing.assert_allclose(margin_loss(v, targets, **kwargs), loss_t.item(), rtol=1e-12)
    np.testing.assert_allclose(margin_loss_backward(v, targets, **kwargs), grad_t.numpy(), rtol=1e-10,
                               atol=1e-14)


def test_margin_loss_backward_matches_finite_differences():
    v, targets = _margin_case(np.random.default_rng(7))
    lengths = np.linalg.norm(v, axis=2)
    assert np.abs(lengths - 0.9).min() > 1e-3 and np.abs(lengths - 0.1).min() > 1e-3  # away from the kinks
    [numeric] = numerical_gradients(lambda a: margin_loss(a, targets), [v], np.array(1.0))
    assert relative_error(margin_loss_backward(v, targets), numeric) < 1e-7


def test_margin_loss_values_from_the_definition():
    # one example, target class 1; lengths 0.5 (absent, 0.4 over m-), 0.7 (present, 0.2 short), 0.05
    v = np.zeros((1, 3, 2))
    v[0, 0, 0], v[0, 1, 1], v[0, 2, 0] = 0.5, -0.7, 0.05
    assert margin_loss(v, np.array([1])) == pytest.approx(0.5 * 0.4**2 + 0.2**2, rel=1e-14)
    # a perfect prediction costs nothing, and a zero capsule has a zero gradient
    v_good = np.zeros((1, 3, 2))
    v_good[0, 1] = [0.6, 0.8]
    assert margin_loss(v_good, np.array([1])) == 0.0
    np.testing.assert_array_equal(margin_loss_backward(v_good, np.array([1])), np.zeros_like(v_good))


def test_margin_loss_keeps_float32():
    v, targets = _margin_case(np.random.default_rng(8))
    v = v.astype(np.float32)
    assert margin_loss(v, targets).dtype == np.float32
    assert margin_loss_backward(v, targets).dtype == np.float32


def test_bad_inputs_are_rejected():
    with pytest.raises(ValueError, match=r"axis must be in \[-2, 1\]"):
        squash(np.ones((2, 3)), axis=2)
    with pytest.raises(ValueError, match="s must not contain NaN"):
        squash(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match=r"dv must have the same shape as s, \(2, 3\)"):
        squash_backward(np.ones((3, 2)), np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"u_hat must have shape \(N, n_in, n_out, d_out\).*got shape "
                                         r"\(3, 2, 4\)"):
        dynamic_routing(np.ones((3, 2, 4)))
    with pytest.raises(ValueError, match=r"no empty axis.*\(1, 0, 2, 2\)"):
        dynamic_routing(np.ones((1, 0, 2, 2)))
    with pytest.raises(ValueError, match="num_iterations must be an int >= 1; got 0"):
        dynamic_routing(np.ones((1, 2, 2, 2)), num_iterations=0)
    with pytest.raises(TypeError, match="num_iterations must be an int"):
        dynamic_routing(np.ones((1, 2, 2, 2)), num_iterations=2.5)
    with pytest.raises(ValueError, match="u_hat must not contain NaN or infinite values"):
        dynamic_routing(np.full((1, 2, 2, 2), np.inf))
    with pytest.raises(ValueError, match=r"v must have shape \(N, K, D\).*got shape \(4, 3\)"):
        margin_loss(np.ones((4, 3)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match=r"targets must be class indices in \[0, C\) = \[0, 3\); got 3"):
        margin_loss(np.ones((2, 3, 2)), np.array([0, 3]))
    with pytest.raises(TypeError, match="targets must hold integer class indices"):
        margin_loss_backward(np.ones((2, 3, 2)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"m_plus must be in \[0.0, inf\]; got -0.9"):
        margin_loss(np.ones((2, 3, 2)), np.array([0, 1]), m_plus=-0.9)
    with pytest.raises(ValueError, match=r"lam must be in \[0.0, inf\]; got -1.0"):
        margin_loss(np.ones((2, 3, 2)), np.array([0, 1]), lam=-1.0)
