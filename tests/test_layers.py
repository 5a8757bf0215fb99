"""dlref.layers: finite differences, PyTorch float64 as the oracle, dtypes and errors."""

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlref import layers
from dlref.gradcheck import numerical_gradients, relative_error

# leading (batch) dimensions of x and (in_features, out_features), including the size-1 edge cases
LEADING = [(), (1,), (5,), (2, 3), (1, 1, 2)]
FEATURES = [(1, 1), (1, 4), (3, 1), (4, 3)]


def _random_problem(rng, leading, in_features, out_features):
    x = rng.normal(size=leading + (in_features,))
    W = rng.normal(size=(out_features, in_features))
    b = rng.normal(size=out_features)
    dy = rng.normal(size=leading + (out_features,))
    return x, W, b, dy


def _assert_matches_torch(x, W, b, dy):
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    yt = F.linear(xt, Wt, bt)
    dx_t, dW_t, db_t = torch.autograd.grad(yt, (xt, Wt, bt), torch.tensor(dy))

    np.testing.assert_allclose(layers.linear_forward(x, W, b), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(layers.linear_forward(x, W), F.linear(torch.tensor(x), torch.tensor(W)).numpy(),
                               rtol=1e-10, atol=1e-10)
    # The backward does not depend on b, so torch's bias gradient is the oracle for db with or without a bias.
    dx, dW, db = layers.linear_backward(dy, x, W)
    for ours, theirs in ((dx, dx_t), (dW, dW_t), (db, db_t)):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("seed", range(6))
def test_linear_matches_torch_on_random_shapes(seed):
    rng = np.random.default_rng(seed)
    leading = tuple(int(n) for n in rng.integers(1, 5, size=rng.integers(0, 4)))
    in_features, out_features = (int(n) for n in rng.integers(1, 7, size=2))
    _assert_matches_torch(*_random_problem(rng, leading, in_features, out_features))


@pytest.mark.parametrize("features", FEATURES)
@pytest.mark.parametrize("leading", LEADING)
def test_linear_matches_torch_on_edge_shapes(leading, features):
    rng = np.random.default_rng(0)
    _assert_matches_torch(*_random_problem(rng, leading, *features))


@pytest.mark.parametrize("leading", [(), (3,), (2, 3)])
def test_linear_backward_matches_finite_differences_for_x_W_and_b(leading):
    rng = np.random.default_rng(3)
    x, W, b, dy = _random_problem(rng, leading, 4, 3)

    numeric = numerical_gradients(layers.linear_forward, [x, W, b], dy)

    for analytic, estimate in zip(layers.linear_backward(dy, x, W), numeric):
        assert relative_error(analytic, estimate) < 1e-7


def test_gradcheck_catches_a_bias_gradient_that_forgets_the_batch_sum():
    rng = np.random.default_rng(4)
    x, W, b, dy = _random_problem(rng, (5,), 4, 3)
    _, _, numeric_db = numerical_gradients(layers.linear_forward, [x, W, b], dy)
    assert relative_error(dy[0], numeric_db) > 0.1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept(dtype):
    rng = np.random.default_rng(5)
    x, W, b, dy = (a.astype(dtype) for a in _random_problem(rng, (2,), 3, 4))
    assert layers.linear_forward(x, W, b).dtype == dtype
    assert layers.linear_forward(x, W).dtype == dtype
    assert all(g.dtype == dtype for g in layers.linear_backward(dy, x, W))


def test_float32_agrees_with_float64():
    rng = np.random.default_rng(6)
    x, W, b, dy = _random_problem(rng, (3,), 5, 2)
    y32 = layers.linear_forward(x.astype(np.float32), W.astype(np.float32), b.astype(np.float32))
    np.testing.assert_allclose(y32, layers.linear_forward(x, W, b), rtol=1e-5, atol=1e-5)


def test_mixed_dtypes_follow_numpy_promotion():
    x = np.ones((2, 3), dtype=np.float32)
    W = np.ones((4, 3), dtype=np.float64)
    assert layers.linear_forward(x, W).dtype == np.float64
    assert layers.linear_forward(x, W.astype(np.float32), np.ones(4)).dtype == np.float64
    dx, dW, db = layers.linear_backward(np.ones((2, 4), dtype=np.float32), x, W)
    assert (dx.dtype, dW.dtype, db.dtype) == (np.float64, np.float32, np.float32)


def test_lists_of_ints_become_float64():
    y = layers.linear_forward([1, 2], [[1, 0], [0, 1], [1, 1]], [0, 0, 1])
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, [1.0, 2.0, 4.0])


def test_db_is_returned_without_a_bias_and_sums_over_every_leading_dimension():
    dx, dW, db = layers.linear_backward(np.ones((2, 3, 4)), np.ones((2, 3, 5)), np.ones((4, 5)))
    assert (dx.shape, dW.shape) == ((2, 3, 5), (4, 5))
    np.testing.assert_array_equal(db, [6.0, 6.0, 6.0, 6.0])


def test_x_whose_features_do_not_match_W_is_rejected_with_a_hint():
    with pytest.raises(ValueError, match=r"x must have shape \(\.\.\., in_features\) with in_features = 3, "
                                         r"the second dimension of W \(4, 3\); got x of shape \(2, 4\)\. "
                                         r".*pass W\.T"):
        layers.linear_forward(np.ones((2, 4)), np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"in_features = 3.*got x of shape \(2, 4\)"):
        layers.linear_backward(np.ones((2, 4)), np.ones((2, 4)), np.ones((4, 3)))


@pytest.mark.parametrize("shape", [(3,), (2, 3, 4)])
def test_W_that_is_not_2d_is_rejected(shape):
    expected = (f"W must be 2-D with shape (out_features, in_features), as torch.nn.Linear.weight; "
                f"got shape {shape}")
    with pytest.raises(ValueError, match=re.escape(expected)):
        layers.linear_forward(np.ones(3), np.ones(shape))


def test_scalar_x_is_rejected():
    with pytest.raises(ValueError, match=r"x must have at least one dimension.*in_features = 1; got a 0-d "
                                         r"array .* np\.atleast_1d"):
        layers.linear_forward(np.float64(2.0), np.ones((3, 1)))


@pytest.mark.parametrize("b_shape", [(4,), (1, 3), ()])
def test_bias_of_the_wrong_shape_is_rejected(b_shape):
    with pytest.raises(ValueError, match=r"b must have shape \(out_features,\) = \(3,\) to match W of shape "
                                         r"\(3, 2\); got " + re.escape(str(b_shape))):
        layers.linear_forward(np.ones((5, 2)), np.ones((3, 2)), np.ones(b_shape))


@pytest.mark.parametrize("dy_shape", [(5, 2), (3,), (1, 5, 3)])
def test_upstream_gradient_of_the_wrong_shape_is_rejected(dy_shape):
    with pytest.raises(ValueError, match=r"dy must have the shape of the forward output, x\.shape\[:-1\] \+ "
                                         r"\(out_features,\) = \(5, 3\); got " + re.escape(str(dy_shape))):
        layers.linear_backward(np.ones(dy_shape), np.ones((5, 2)), np.ones((3, 2)))


@pytest.mark.parametrize("name", ["x", "W", "b"])
def test_nan_in_any_forward_input_is_rejected(name):
    arrays = {"x": np.ones((2, 3)), "W": np.ones((4, 3)), "b": np.ones(4)}
    arrays[name].flat[1] = np.nan
    with pytest.raises(ValueError, match=rf"{name} must not contain NaN; found nan at index"):
        layers.linear_forward(**arrays)


def test_nan_in_the_upstream_gradient_is_rejected():
    dy = np.ones((2, 4))
    dy[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"dy must not contain NaN; found nan at index \(1, 2\)"):
        layers.linear_backward(dy, np.ones((2, 3)), np.ones((4, 3)))


def test_non_numeric_input_is_a_type_error():
    with pytest.raises(TypeError, match=r"W must hold real numbers .* got an array of dtype <U1"):
        layers.linear_forward(np.ones(2), np.array([["a", "b"]]))
