"""dlref.layers dropout and batch norm: PyTorch float64 oracle, finite differences, statistics, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlref import layers
from dlref.gradcheck import numerical_gradients, relative_error

TOLERANCE = {"rtol": 1e-8, "atol": 1e-10}


# --------------------------------------------------------------------------------------------------------
# Dropout
# --------------------------------------------------------------------------------------------------------

def _nonzero_normal(rng, shape):
    """Normal entries bounded away from zero, so that a zero output means a dropped entry."""
    x = rng.normal(size=shape)
    return np.where(np.abs(x) < 1e-3, 1.0, x)


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("shape", [(30,), (6, 7), (2, 3, 4, 5)])
def test_dropout_backward_matches_torch_given_torch_mask(p, shape):
    rng = np.random.default_rng(0)
    x, dy = _nonzero_normal(rng, shape), rng.normal(size=shape)
    torch.manual_seed(1)
    xt = torch.tensor(x, requires_grad=True)
    yt = F.dropout(xt, p, training=True)
    (dx_t,) = torch.autograd.grad(yt, xt, torch.tensor(dy))
    kept = (yt != 0).numpy()
    assert 0 < kept.sum() < kept.size  # torch dropped some entries and kept some

    torch_mask = kept / (1.0 - p)
    # The mask is the whole forward map: applying it to x must reproduce torch's output.
    np.testing.assert_allclose(layers.dropout_backward(x, torch_mask), yt.detach().numpy(), **TOLERANCE)
    np.testing.assert_allclose(layers.dropout_backward(dy, torch_mask), dx_t.numpy(), **TOLERANCE)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_forward_matches_torch_given_the_same_mask(p):
    rng = np.random.default_rng(2)
    x = _nonzero_normal(rng, (6, 9))
    y, mask = layers.dropout_forward(x, p, rng=np.random.default_rng(3))
    kept = mask != 0
    # aten's native_dropout_backward(t, mask, scale) is the kernel that applies a dropout mask.
    expected = torch.ops.aten.native_dropout_backward(torch.tensor(x), torch.tensor(kept), 1.0 / (1.0 - p))
    np.testing.assert_allclose(y, expected.numpy(), **TOLERANCE)
    np.testing.assert_allclose(mask[kept], 1.0 / (1.0 - p), rtol=1e-15)
    assert set(np.unique(mask)) <= {0.0, 1.0 / (1.0 - p)}


def test_dropout_backward_matches_finite_differences():
    rng = np.random.default_rng(4)
    x, dy = rng.normal(size=(5, 6)), rng.normal(size=(5, 6))

    def forward(a):  # the same seed each call: one fixed mask
        return layers.dropout_forward(a, 0.4, rng=np.random.default_rng(5))[0]

    _, mask = layers.dropout_forward(x, 0.4, rng=np.random.default_rng(5))
    [numeric] = numerical_gradients(forward, [x], dy)
    assert relative_error(layers.dropout_backward(dy, mask), numeric) < 1e-7
    assert 0 < np.count_nonzero(mask) < mask.size


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_keeps_each_entry_with_probability_one_minus_p(p):
    n = 200_000
    _, mask = layers.dropout_forward(np.ones(n), p, rng=np.random.default_rng(6))
    keep_rate = np.count_nonzero(mask) / n
    standard_error = np.sqrt(p * (1 - p) / n)
    assert abs(keep_rate - (1 - p)) < 5 * standard_error


@pytest.mark.parametrize("p", [0.25, 0.6])
def test_dropout_output_has_the_input_as_expectation_and_the_predicted_variance(p):
    x = np.array([-3.0, -0.5, 0.2, 1.0, 4.0])
    draws = 100_000
    y, _ = layers.dropout_forward(np.tile(x, (draws, 1)), p, rng=np.random.default_rng(7))
    variance = x**2 * p / (1 - p)
    assert np.all(np.abs(y.mean(axis=0) - x) < 5 * np.sqrt(variance / draws))
    np.testing.assert_allclose(y.var(axis=0), variance, rtol=0.03)


def test_dropout_masks_are_independent_across_entries():
    _, mask = layers.dropout_forward(np.ones((100_000, 2)), 0.5, rng=np.random.default_rng(8))
    both_kept = np.mean((mask[:, 0] != 0) & (mask[:, 1] != 0))
    assert abs(both_kept - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 100_000)


def test_dropout_in_evaluation_mode_is_the_identity_and_needs_no_rng():
    x = np.random.default_rng(9).normal(size=(3, 4))
    y, mask = layers.dropout_forward(x, 0.7, rng=None, training=False)
    np.testing.assert_array_equal(y, x)
    np.testing.assert_array_equal(mask, np.ones_like(x))
    assert y is not x
    np.testing.assert_array_equal(layers.dropout_backward(np.full_like(x, 2.0), mask), np.full_like(x, 2.0))
    with torch.no_grad():
        np.testing.assert_array_equal(F.dropout(torch.tensor(x), 0.7, training=False).numpy(), y)


def test_dropout_with_p_zero_and_p_one_match_torch():
    x = np.random.default_rng(10).normal(size=(4, 3))
    for p in (0.0, 1.0):
        y, mask = layers.dropout_forward(x, p, rng=np.random.default_rng(0))
        np.testing.assert_array_equal(y, F.dropout(torch.tensor(x), p, training=True).numpy())
        np.testing.assert_array_equal(mask, np.full_like(x, 1.0 - p))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dropout_keeps_the_dtype_and_draws_the_same_mask_for_either_dtype(dtype):
    x = np.random.default_rng(11).normal(size=(3, 5))
    y, mask = layers.dropout_forward(x.astype(dtype), 0.3, rng=np.random.default_rng(12))
    _, mask64 = layers.dropout_forward(x, 0.3, rng=np.random.default_rng(12))
    assert y.dtype == mask.dtype == dtype
    np.testing.assert_array_equal(mask != 0, mask64 != 0)
    assert layers.dropout_backward(np.ones((3, 5), dtype=dtype), mask).dtype == dtype


def test_dropout_does_not_modify_its_input():
    x = np.ones((4, 4))
    layers.dropout_forward(x, 0.5, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(x, np.ones((4, 4)))


def test_dropout_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"p must be in \[0\.0, 1\.0\]; got 1\.5"):
        layers.dropout_forward(np.ones(3), 1.5, rng)
    with pytest.raises(ValueError, match=r"p must be in \[0\.0, 1\.0\]; got -0\.1"):
        layers.dropout_forward(np.ones(3), -0.1, rng)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator; got None .*default_rng"):
        layers.dropout_forward(np.ones(3), 0.5, None)
    with pytest.raises(TypeError, match=r"training must be True or False; got 'eval'"):
        layers.dropout_forward(np.ones(3), 0.5, rng, training="eval")
    with pytest.raises(ValueError, match=r"x must not contain NaN"):
        layers.dropout_forward(np.array([1.0, np.nan]), 0.5, rng)
    with pytest.raises(ValueError, match=r"dy must have the same shape as mask, \(3,\); got \(2, 3\)"):
        layers.dropout_backward(np.ones((2, 3)), np.ones(3))


# --------------------------------------------------------------------------------------------------------
# Batch normalisation
# --------------------------------------------------------------------------------------------------------

def _random_bn_problem(rng, shape):
    channels = shape[1]
    # Per-channel offsets and scales far from 0 and 1, so that a normalisation that ignores them fails.
    x = rng.normal(size=shape) * rng.uniform(0.5, 3.0, size=(1, channels) + (1,) * (len(shape) - 2)) + 2.0
    gamma, beta = rng.normal(size=channels), rng.normal(size=channels)
    running_mean, running_var = rng.normal(size=channels), rng.uniform(0.5, 2.0, size=channels)
    dy = rng.normal(size=shape)
    return x, gamma, beta, running_mean, running_var, dy


def _torch_bn(gamma, beta, running_mean, running_var, ndim, momentum, eps, training):
    module_class = torch.nn.BatchNorm2d if ndim == 4 else torch.nn.BatchNorm1d
    bn = module_class(len(gamma), momentum=momentum, eps=eps, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(gamma))
        bn.bias.copy_(torch.tensor(beta))
        bn.running_mean.copy_(torch.tensor(running_mean))
        bn.running_var.copy_(torch.tensor(running_var))
    return bn.train(training)


SHAPES = [(6, 3), (2, 4), (5, 4, 7), (4, 3, 5, 6), (2, 1, 3, 3), (1, 2, 3, 1)]


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_matches_torch_including_running_statistics(shape, training):
    rng = np.random.default_rng(sum(shape) + training)
    x, gamma, beta, running_mean, running_var, dy = _random_bn_problem(rng, shape)
    momentum, eps = 0.3, 1e-3
    bn = _torch_bn(gamma, beta, running_mean, running_var, len(shape), momentum, eps, training)
    xt = torch.tensor(x, requires_grad=True)
    yt = bn(xt)
    dx_t, dgamma_t, dbeta_t = torch.autograd.grad(yt, (xt, bn.weight, bn.bias), torch.tensor(dy))

    y, new_mean, new_var, cache = layers.batchnorm_forward(x, gamma, beta, running_mean, running_var,
                                                           training, momentum=momentum, eps=eps)
    dx, dgamma, dbeta = layers.batchnorm_backward(dy, cache)

    np.testing.assert_allclose(y, yt.detach().numpy(), **TOLERANCE)
    np.testing.assert_allclose(new_mean, bn.running_mean.numpy(), **TOLERANCE)
    np.testing.assert_allclose(new_var, bn.running_var.numpy(), **TOLERANCE)
    for ours, theirs in ((dx, dx_t), (dgamma, dgamma_t), (dbeta, dbeta_t)):
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours, theirs.numpy(), **TOLERANCE)


@pytest.mark.parametrize("momentum", [0.0, 0.1, 1.0])
def test_running_statistics_follow_torch_over_many_batches_then_evaluation(momentum):
    rng = np.random.default_rng(20)
    _, gamma, beta, _, _, _ = _random_bn_problem(rng, (8, 3, 2, 2))
    running_mean, running_var = np.zeros(3), np.ones(3)
    bn = _torch_bn(gamma, beta, running_mean, running_var, 4, momentum, 1e-5, training=True)
    for step in range(6):
        x = rng.normal(loc=step, scale=1 + step, size=(8, 3, 2, 2))
        with torch.no_grad():
            bn(torch.tensor(x))
        _, running_mean, running_var, _ = layers.batchnorm_forward(x, gamma, beta, running_mean, running_var,
                                                                   training=True, momentum=momentum)
    np.testing.assert_allclose(running_mean, bn.running_mean.numpy(), **TOLERANCE)
    np.testing.assert_allclose(running_var, bn.running_var.numpy(), **TOLERANCE)

    x = rng.normal(size=(5, 3, 2, 2))
    with torch.no_grad():
        expected = bn.eval()(torch.tensor(x)).numpy()
    y, *_ = layers.batchnorm_forward(x, gamma, beta, running_mean, running_var, training=False,
                                     momentum=momentum)
    np.testing.assert_allclose(y, expected, **TOLERANCE)


def test_running_variance_gets_the_unbiased_batch_variance():
    x = np.array([[1.0], [2.0], [6.0]])  # mean 3, biased variance 14/3, unbiased 7
    _, mean, var, _ = layers.batchnorm_forward(x, np.ones(1), np.zeros(1), np.zeros(1), np.zeros(1),
                                               training=True, momentum=1.0)
    np.testing.assert_allclose(mean, [3.0], rtol=1e-15)
    np.testing.assert_allclose(var, [7.0], rtol=1e-15)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (3, 2, 2, 3)])
def test_batchnorm_backward_matches_finite_differences(shape, training):
    rng = np.random.default_rng(30 + len(shape))
    x, gamma, beta, running_mean, running_var, dy = _random_bn_problem(rng, shape)

    def forward(a, g, b):
        return layers.batchnorm_forward(a, g, b, running_mean, running_var, training)[0]

    numeric = numerical_gradients(forward, [x, gamma, beta], dy)
    _, _, _, cache = layers.batchnorm_forward(x, gamma, beta, running_mean, running_var, training)
    for analytic, estimate in zip(layers.batchnorm_backward(dy, cache), numeric, strict=True):
        assert relative_error(analytic, estimate) < 1e-7


def test_training_output_is_standardised_per_channel_and_its_gradient_is_projected():
    rng = np.random.default_rng(40)
    x, _, _, running_mean, running_var, dy = _random_bn_problem(rng, (6, 3, 4, 4))
    y, _, _, cache = layers.batchnorm_forward(x, np.ones(3), np.zeros(3), running_mean, running_var,
                                              training=True, eps=0.0)
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), 1.0, rtol=1e-12)
    dx, _, _ = layers.batchnorm_backward(dy, cache)
    # Shifting or scaling a channel's inputs leaves its output unchanged: dx has no such component.
    np.testing.assert_allclose(dx.sum(axis=(0, 2, 3)), 0.0, atol=1e-10)
    np.testing.assert_allclose((dx * x).sum(axis=(0, 2, 3)), 0.0, atol=1e-10)


def test_evaluation_mode_returns_the_running_statistics_unchanged_and_nothing_is_mutated():
    rng = np.random.default_rng(50)
    x, gamma, beta, running_mean, running_var, _ = _random_bn_problem(rng, (4, 3))
    originals = [a.copy() for a in (x, gamma, beta, running_mean, running_var)]
    _, mean_eval, var_eval, _ = layers.batchnorm_forward(x, gamma, beta, running_mean, running_var, False)
    np.testing.assert_array_equal(mean_eval, running_mean)
    np.testing.assert_array_equal(var_eval, running_var)
    _, mean_train, _, _ = layers.batchnorm_forward(x, gamma, beta, running_mean, running_var, True)
    assert not np.allclose(mean_train, running_mean)
    for before, after in zip(originals, (x, gamma, beta, running_mean, running_var)):
        np.testing.assert_array_equal(before, after)


def test_evaluation_mode_treats_each_example_independently_of_the_batch():
    rng = np.random.default_rng(51)
    x, gamma, beta, running_mean, running_var, _ = _random_bn_problem(rng, (5, 3))
    batch_eval, *_ = layers.batchnorm_forward(x, gamma, beta, running_mean, running_var, False)
    single_eval, *_ = layers.batchnorm_forward(x[:1], gamma, beta, running_mean, running_var, False)
    batch_train, *_ = layers.batchnorm_forward(x, gamma, beta, running_mean, running_var, True)
    pair_train, *_ = layers.batchnorm_forward(x[:2], gamma, beta, running_mean, running_var, True)
    np.testing.assert_allclose(single_eval[0], batch_eval[0], rtol=1e-15)
    assert not np.allclose(pair_train[0], batch_train[0])


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_keeps_float32(training):
    rng = np.random.default_rng(60)
    arrays = [a.astype(np.float32) for a in _random_bn_problem(rng, (4, 2, 3, 3))]
    x, gamma, beta, running_mean, running_var, dy = arrays
    y, mean, var, cache = layers.batchnorm_forward(x, gamma, beta, running_mean, running_var, training)
    grads = layers.batchnorm_backward(dy, cache)
    assert all(a.dtype == np.float32 for a in (y, mean, var, *grads))
    y64, *_ = layers.batchnorm_forward(*(a.astype(np.float64) for a in arrays[:5]), training)
    np.testing.assert_allclose(y, y64, rtol=1e-4, atol=1e-4)


def test_batchnorm_errors():
    ones, zeros = np.ones(3), np.zeros(3)
    with pytest.raises(ValueError, match=r"x must have shape \(N, C\) or \(N, C, \.\.\.\).*got shape \(3,\)"):
        layers.batchnorm_forward(np.ones(3), ones, zeros, zeros, ones, True)
    with pytest.raises(ValueError, match=r"gamma must have shape \(C,\) = \(3,\), one entry per channel of x, "
                                         r"whose shape \(4, 3, 2, 2\) .*got \(2,\)\. .*np\.moveaxis"):
        layers.batchnorm_forward(np.ones((4, 3, 2, 2)), np.ones(2), zeros, zeros, ones, True)
    with pytest.raises(ValueError, match=r"running_var must have shape \(C,\) = \(3,\)"):
        layers.batchnorm_forward(np.ones((4, 3)), ones, zeros, zeros, np.ones((1, 3)), True)
    with pytest.raises(ValueError, match=r"running_var must be non-negative.*got -1\.0"):
        layers.batchnorm_forward(np.ones((4, 3)), ones, zeros, zeros, np.array([1.0, -1.0, 1.0]), False)
    with pytest.raises(ValueError, match=r"training mode needs more than one value per channel.*\(1, 3\)"):
        layers.batchnorm_forward(np.ones((1, 3)), ones, zeros, zeros, ones, True)
    layers.batchnorm_forward(np.ones((1, 3)), ones, zeros, zeros, ones, False)  # fine in evaluation mode
    with pytest.raises(TypeError, match=r"training must be True or False; got 1"):
        layers.batchnorm_forward(np.ones((4, 3)), ones, zeros, zeros, ones, 1)
    with pytest.raises(ValueError, match=r"momentum must be in \[0\.0, 1\.0\]; got 1\.5"):
        layers.batchnorm_forward(np.ones((4, 3)), ones, zeros, zeros, ones, True, momentum=1.5)
    with pytest.raises(ValueError, match=r"eps must be in \[0\.0, inf\]; got -1e-05"):
        layers.batchnorm_forward(np.ones((4, 3)), ones, zeros, zeros, ones, True, eps=-1e-5)
    with pytest.raises(ValueError, match=r"x must not contain NaN"):
        layers.batchnorm_forward(np.full((4, 3), np.nan), ones, zeros, zeros, ones, True)
    with pytest.raises(ValueError, match=r"running_mean must not contain NaN or infinite values"):
        layers.batchnorm_forward(np.ones((4, 3)), ones, zeros, np.full(3, np.inf), ones, True)

    _, _, _, cache = layers.batchnorm_forward(np.eye(3), ones, zeros, zeros, ones, True)
    with pytest.raises(ValueError, match=r"dy must have the same shape as the forward output, \(3, 3\); "
                                         r"got \(3, 2\)"):
        layers.batchnorm_backward(np.ones((3, 2)), cache)
    with pytest.raises(TypeError, match=r"cache must be the BatchNormCache returned by batchnorm_forward; "
                                        r"got tuple"):
        layers.batchnorm_backward(np.ones((3, 3)), (cache.x_hat, cache.gamma))
