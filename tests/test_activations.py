"""dlref.activations: finite differences, PyTorch float64 as the oracle, extremes, dtypes and errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlref import activations as A
from dlref.gradcheck import numerical_gradients, relative_error

# case -> (dlref name, keyword arguments, the same function in torch)
ELEMENTWISE = {
    "identity": ("identity", {}, lambda t: t),
    # torch.heaviside has no backward; relu(sign(t)) is the same step, and sign's gradient is zero.
    "step": ("step", {}, lambda t: F.relu(torch.sign(t))),
    "sigmoid": ("sigmoid", {}, torch.sigmoid),
    "tanh": ("tanh", {}, torch.tanh),
    "relu": ("relu", {}, F.relu),
    "leaky_relu": ("leaky_relu", {}, F.leaky_relu),
    "leaky_relu-0.2": ("leaky_relu", {"negative_slope": 0.2}, lambda t: F.leaky_relu(t, 0.2)),
    "elu": ("elu", {}, F.elu),
    "elu-0.5": ("elu", {"alpha": 0.5}, lambda t: F.elu(t, alpha=0.5)),
    "gelu": ("gelu", {}, F.gelu),
    "gelu-tanh": ("gelu", {"approximate": "tanh"}, lambda t: F.gelu(t, approximate="tanh")),
    "swish": ("swish", {}, lambda t: t * torch.sigmoid(t)),
    "swish-1.7": ("swish", {"beta": 1.7}, lambda t: t * torch.sigmoid(1.7 * t)),
    "silu": ("silu", {}, F.silu),
    # torch's softplus is exact below its threshold; a high threshold keeps it exact on these inputs.
    "softplus": ("softplus", {}, lambda t: F.softplus(t, threshold=50.0)),
}
ALONG_AXIS = {
    "softmax": lambda t, axis: torch.softmax(t, dim=axis),
    "log_softmax": lambda t, axis: torch.log_softmax(t, dim=axis),
}


def _functions(name: str):
    return getattr(A, name), getattr(A, f"{name}_backward")


def _random_shape(rng):
    return tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(1, 4)))


def _away_from_kinks(x):
    # relu, leaky_relu, elu and step are not differentiable at 0; keep random inputs away from it.
    return np.where(np.abs(x) < 1e-3, 0.5, x)


@pytest.mark.parametrize("case", sorted(ELEMENTWISE))
@pytest.mark.parametrize("seed", range(3))
def test_elementwise_matches_torch_forward_and_backward(case, seed):
    rng = np.random.default_rng(seed)
    name, kwargs, torch_fn = ELEMENTWISE[case]
    forward, backward = _functions(name)
    x = _away_from_kinks(rng.normal(scale=3.0, size=_random_shape(rng)))
    dy = rng.normal(size=x.shape)

    xt = torch.tensor(x, requires_grad=True)
    yt = torch_fn(xt)
    (dx_torch,) = torch.autograd.grad(yt, xt, torch.tensor(dy), allow_unused=True, materialize_grads=True)

    np.testing.assert_allclose(forward(x, **kwargs), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(backward(dy, x, **kwargs), dx_torch.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", sorted(ALONG_AXIS))
@pytest.mark.parametrize("seed", range(4))
def test_along_axis_matches_torch_forward_and_backward(name, seed):
    rng = np.random.default_rng(seed)
    forward, backward = _functions(name)
    shape = _random_shape(rng)
    axis = int(rng.integers(-len(shape), len(shape)))
    x = rng.normal(scale=5.0, size=shape)
    dy = rng.normal(size=shape)

    xt = torch.tensor(x, requires_grad=True)
    yt = ALONG_AXIS[name](xt, axis)
    (dx_torch,) = torch.autograd.grad(yt, xt, torch.tensor(dy))

    np.testing.assert_allclose(forward(x, axis=axis), yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(backward(dy, x, axis=axis), dx_torch.numpy(), rtol=1e-10, atol=1e-10)


DIFFERENTIABLE = sorted(set(ELEMENTWISE) - {"step"}) + sorted(ALONG_AXIS)


@pytest.mark.parametrize("case", DIFFERENTIABLE)
def test_backward_matches_finite_differences(case):
    rng = np.random.default_rng(7)
    if case in ALONG_AXIS:
        (forward, backward), kwargs = _functions(case), {"axis": 0}
    else:
        name, kwargs, _ = ELEMENTWISE[case]
        forward, backward = _functions(name)
    x = _away_from_kinks(rng.normal(scale=2.0, size=(4, 5)))
    dy = rng.normal(size=x.shape)

    [numeric] = numerical_gradients(lambda a: forward(a, **kwargs), [x], dy)

    assert relative_error(backward(dy, x, **kwargs), numeric) < 1e-7


def test_step_backward_is_zero_and_finite_differences_agree_away_from_zero():
    x = np.array([-2.0, -0.5, 0.5, 2.0])
    dy = np.ones_like(x)
    [numeric] = numerical_gradients(A.step, [x], dy)
    np.testing.assert_array_equal(A.step_backward(dy, x), numeric)
    np.testing.assert_array_equal(A.step_backward(dy, x), np.zeros(4))


def test_gradcheck_catches_a_wrong_backward():
    # The check must be able to fail: a sigmoid "derivative" missing the (1 - s) factor is caught.
    x = np.linspace(-2, 2, 9)
    dy = np.ones_like(x)
    [numeric] = numerical_gradients(A.sigmoid, [x], dy)
    assert relative_error(dy * A.sigmoid(x), numeric) > 0.1


EXTREMES = np.array([-1e4, -800.0, -50.0, -1e-8, 0.0, 1e-8, 50.0, 800.0, 1e4])
ALL_NAMES = ["identity", "step", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "swish", "silu",
             "softplus", "softmax", "log_softmax"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ALL_NAMES)
def test_extreme_inputs_are_finite_and_keep_dtype(name, dtype):
    x = EXTREMES.astype(dtype)
    forward, backward = _functions(name)
    y = forward(x)
    dx = backward(np.ones_like(x), x)
    assert y.dtype == dtype and dx.dtype == dtype
    assert np.isfinite(y).all(), y
    assert np.isfinite(dx).all(), dx


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_values_are_correct(dtype):
    x = np.array([-1e4, 1e4], dtype=dtype)
    np.testing.assert_array_equal(A.sigmoid(x), [0.0, 1.0])
    np.testing.assert_array_equal(A.softplus(x), [0.0, 1e4])
    np.testing.assert_array_equal(A.swish(x), [0.0, 1e4])
    np.testing.assert_array_equal(A.gelu(x), [0.0, 1e4])
    np.testing.assert_array_equal(A.gelu(x, approximate="tanh"), [0.0, 1e4])
    np.testing.assert_array_equal(A.elu(x), [-1.0, 1e4])
    np.testing.assert_array_equal(A.softmax(x), [0.0, 1.0])
    np.testing.assert_array_equal(A.log_softmax(x), [-2e4, 0.0])
    np.testing.assert_array_equal(A.softplus_backward(np.ones_like(x), x), [0.0, 1.0])


def test_softmax_is_shift_invariant_where_the_naive_formula_overflows():
    x = np.array([[1000.0, 1001.0, 1002.0]])
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(x) / np.exp(x).sum()
    assert np.isnan(naive).all()
    np.testing.assert_allclose(A.softmax(x), A.softmax(x - 1000.0), rtol=1e-15)


def test_integer_and_list_inputs_become_float64():
    assert A.relu([1, -2, 3]).dtype == np.float64
    np.testing.assert_array_equal(A.relu([1, -2, 3]), [1.0, 0.0, 3.0])


@pytest.mark.parametrize("name", ALL_NAMES)
def test_non_numeric_input_is_a_type_error(name):
    with pytest.raises(TypeError, match=r"real numbers .* got an array of dtype <U1"):
        getattr(A, name)(np.array(["a", "b"]))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_nan_input_names_its_position(name):
    with pytest.raises(ValueError, match=r"x must not contain NaN; found nan at index \(1,\)"):
        getattr(A, name)(np.array([0.0, np.nan]))


@pytest.mark.parametrize("name", ALL_NAMES)
def test_backward_rejects_a_gradient_of_another_shape(name):
    with pytest.raises(ValueError, match=r"dy must have the same shape as x, \(3,\); got \(2,\)"):
        getattr(A, f"{name}_backward")(np.ones(2), np.ones(3))


def test_backward_rejects_nan_in_the_upstream_gradient():
    with pytest.raises(ValueError, match="dy must not contain NaN"):
        A.relu_backward(np.array([np.nan]), np.array([1.0]))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_bad_axis_is_rejected(name):
    fn = getattr(A, name)
    with pytest.raises(ValueError, match=r"axis must be in \[-2, 1\] for an array with 2 dimension\(s\); got 2"):
        fn(np.ones((2, 3)), axis=2)
    with pytest.raises(TypeError, match="axis must be an int; got 0.5"):
        fn(np.ones(3), axis=0.5)
    with pytest.raises(ValueError, match="needs an array with at least one dimension"):
        fn(np.float64(1.0))


def test_bad_hyperparameters_are_rejected():
    with pytest.raises(ValueError, match="approximate must be one of 'none', 'tanh'; got 'erf'"):
        A.gelu(np.ones(2), approximate="erf")
    with pytest.raises(ValueError, match=r"alpha must be in \[0.0, inf\]; got -1.0"):
        A.elu(np.ones(2), alpha=-1.0)
    with pytest.raises(TypeError, match="negative_slope must be a real number; got '0.1'"):
        A.leaky_relu(np.ones(2), negative_slope="0.1")
    with pytest.raises(ValueError, match="beta must be finite; got inf"):
        A.swish(np.ones(2), beta=float("inf"))


def test_ragged_input_is_a_clear_value_error():
    with pytest.raises(ValueError, match="rectangular array of real numbers"):
        A.relu([[1.0, 2.0], [3.0]])
