"""dlref.losses: finite differences, PyTorch float64 as the oracle, extremes, dtypes and errors."""

import math
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dlref import losses as L
from dlref.gradcheck import numerical_gradients, relative_error


def _random_shape(rng):
    return tuple(int(n) for n in rng.integers(1, 6, size=rng.integers(0, 4)))


def _binary_targets(rng, shape):
    # hard 0/1 labels and soft labels mixed in one batch
    y = rng.uniform(size=shape)
    y.flat[::2] = np.round(y.flat[::2])
    return y


def _regression(rng, shape):
    return rng.normal(scale=3.0, size=shape), rng.normal(scale=3.0, size=shape)


def _probabilities(rng, shape):
    return rng.uniform(0.02, 0.98, size=shape), _binary_targets(rng, shape)


def _logits(rng, shape):
    return rng.normal(scale=3.0, size=shape), _binary_targets(rng, shape)


def _classes(rng, shape):
    n, c = shape
    return rng.normal(scale=3.0, size=(n, c)), rng.integers(0, c, size=n)


# name -> (sample(rng, shape) -> (first argument, target), the loss in torch, mean reduction by default)
LOSSES = {
    "mse": (_regression, F.mse_loss),
    "binary_cross_entropy": (_probabilities, F.binary_cross_entropy),
    "binary_cross_entropy_with_logits": (_logits, F.binary_cross_entropy_with_logits),
    "cross_entropy": (_classes, F.cross_entropy),
    "nll_loss": (_classes, F.nll_loss),
}
ELEMENTWISE = ["mse", "binary_cross_entropy", "binary_cross_entropy_with_logits"]
CLASSIFICATION = ["cross_entropy", "nll_loss"]
BINARY = ["binary_cross_entropy", "binary_cross_entropy_with_logits"]


def _functions(name: str):
    return getattr(L, name), getattr(L, f"{name}_backward")


def _random_sample(name, rng):
    shape = tuple(int(n) for n in rng.integers(1, 7, size=2)) if name in CLASSIFICATION else _random_shape(rng)
    return LOSSES[name][0](rng, shape)


def _assert_matches_torch(name, prediction, target):
    forward, backward = _functions(name)
    pt = torch.tensor(prediction, requires_grad=True)
    loss_t = LOSSES[name][1](pt, torch.tensor(target))
    (grad_t,) = torch.autograd.grad(loss_t, pt)

    np.testing.assert_allclose(forward(prediction, target), loss_t.item(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(backward(prediction, target), grad_t.numpy(), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", sorted(LOSSES))
@pytest.mark.parametrize("seed", range(6))
def test_matches_torch_on_random_shapes(name, seed):
    _assert_matches_torch(name, *_random_sample(name, np.random.default_rng(seed)))


@pytest.mark.parametrize("shape", [(), (1,), (1, 1), (7,)])
@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_losses_match_torch_on_edge_shapes(name, shape):
    _assert_matches_torch(name, *LOSSES[name][0](np.random.default_rng(0), shape))


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (5, 1), (6, 2)])
@pytest.mark.parametrize("name", CLASSIFICATION)
def test_classification_losses_match_torch_on_edge_shapes(name, shape):
    _assert_matches_torch(name, *_classes(np.random.default_rng(0), shape))


def test_binary_cross_entropy_matches_torch_where_it_clamps():
    # p = 0 and 1 exercise the log clamp at -100; p(1 - p) < 1e-12 exercises the clamp in the backward
    p = np.array([0.0, 1.0, 0.0, 1.0, 1e-300, 1e-50, 1e-14, 1.0 - 1e-14, 1e-7, 0.5])
    y = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.2, 0.5, 1.0, 1.0])
    _assert_matches_torch("binary_cross_entropy", p, y)


def test_binary_cross_entropy_clamps_in_float32_like_torch():
    p = np.array([0.0, 1.0, 1e-20, 0.3], dtype=np.float32)
    y = np.array([1.0, 0.0, 0.5, 1.0], dtype=np.float32)
    pt = torch.tensor(p, requires_grad=True)
    loss_t = F.binary_cross_entropy(pt, torch.tensor(y))
    (grad_t,) = torch.autograd.grad(loss_t, pt)

    loss, grad = L.binary_cross_entropy(p, y), L.binary_cross_entropy_backward(p, y)

    np.testing.assert_allclose(loss, loss_t.item(), rtol=1e-6)
    np.testing.assert_allclose(grad, grad_t.numpy(), rtol=1e-6)
    assert np.isfinite(grad).all() and grad.dtype == np.float32


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_backward_matches_finite_differences(name):
    rng = np.random.default_rng(11)
    forward, backward = _functions(name)
    prediction, target = LOSSES[name][0](rng, (4, 3))

    [numeric] = numerical_gradients(lambda a: forward(a, target), [prediction], np.array(1.0))

    assert relative_error(backward(prediction, target), numeric) < 1e-7


def test_gradcheck_catches_a_summed_instead_of_averaged_gradient():
    rng = np.random.default_rng(12)
    logits, targets = _classes(rng, (5, 3))
    [numeric] = numerical_gradients(lambda a: L.cross_entropy(a, targets), [logits], np.array(1.0))
    assert relative_error(5 * L.cross_entropy_backward(logits, targets), numeric) > 0.1


def test_untrained_classifier_loss_is_ln_of_the_class_count():
    targets = np.array([0, 3, 9, 9, 4])
    assert L.cross_entropy(np.zeros((5, 10)), targets) == pytest.approx(math.log(10), rel=1e-15, abs=0)


def test_cross_entropy_is_nll_of_the_log_softmax():
    logits, targets = _classes(np.random.default_rng(13), (6, 4))
    log_probs = torch.log_softmax(torch.tensor(logits), dim=1).numpy()
    np.testing.assert_allclose(L.cross_entropy(logits, targets), L.nll_loss(log_probs, targets), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_cross_entropy_is_finite_and_exact_at_1e4(dtype):
    z = np.array([1e4, 1e4, -1e4, -1e4, 1e4, -1e4], dtype=dtype)
    y = np.array([1.0, 0.0, 1.0, 0.0, 0.5, 0.5], dtype=dtype)
    per_example = [0.0, 1e4, 1e4, 0.0, 5e3, 5e3]
    per_example_grad = [0.0, 1.0, -1.0, 0.0, 0.5, -0.5]
    for k in range(z.size):
        assert L.binary_cross_entropy_with_logits(z[k:k + 1], y[k:k + 1]) == per_example[k]
        assert L.binary_cross_entropy_with_logits_backward(z[k:k + 1], y[k:k + 1])[0] == per_example_grad[k]
    assert L.binary_cross_entropy_with_logits(z, y) == 5e3
    grad = L.binary_cross_entropy_with_logits_backward(z, y)
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, np.array(per_example_grad) / 6, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_cross_entropy_keeps_tiny_losses_accurate(dtype):
    # torch's (1 - y) z - log sigmoid(z) cancels here (9.24e-14 in float64, 0 in float32)
    exact = math.log1p(math.exp(-30.0))
    loss = L.binary_cross_entropy_with_logits(np.array([-30.0], dtype), np.array([0.0], dtype))
    assert loss == pytest.approx(exact, rel=1e-15 if dtype == np.float64 else 1e-6, abs=0)


def test_binary_cross_entropy_keeps_log_of_one_minus_p_accurate_near_zero():
    # log1p(-p) rather than log(1 - p), whose 1 - p rounds away most digits of a small p
    loss = L.binary_cross_entropy(np.array([1e-10]), np.array([0.0]))
    assert loss == pytest.approx(-math.log1p(-1e-10), rel=1e-15, abs=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_and_exact_at_1e4(dtype):
    logits = np.tile(np.array([1e4, -1e4, 0.0], dtype=dtype), (3, 1))
    targets = np.array([0, 1, 2])
    assert L.cross_entropy(logits, targets) == pytest.approx((0.0 + 2e4 + 1e4) / 3, rel=1e-6)
    grad = L.cross_entropy_backward(logits, targets)
    assert grad.dtype == dtype
    np.testing.assert_allclose(grad, np.array([[0, 0, 0], [1, -1, 0], [1, 0, -1]]) / 3, rtol=1e-6, atol=0)
    assert L.nll_loss(logits, np.array([1, 1, 1])) == 1e4


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_binary_cross_entropy_is_finite_at_certain_wrong_predictions(dtype):
    p = np.array([0.0, 1.0, 0.0, 1.0], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0], dtype=dtype)
    assert L.binary_cross_entropy(p, y) == 50.0  # two clamped logs of -100, two exact zeros
    grad = L.binary_cross_entropy_backward(p, y)
    assert np.isfinite(grad).all()
    np.testing.assert_array_equal(np.sign(grad), [-1.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_is_a_scalar_of_the_first_arguments_dtype_and_the_gradient_keeps_it(name, dtype):
    forward, backward = _functions(name)
    prediction, target = _random_sample(name, np.random.default_rng(14))
    loss64 = forward(prediction, target)
    prediction = prediction.astype(dtype)  # the float64 target is converted to the prediction's dtype

    loss = forward(prediction, target)
    grad = backward(prediction, target)

    assert type(loss) is dtype
    assert grad.dtype == dtype and grad.shape == prediction.shape
    assert loss == pytest.approx(loss64, rel=1e-5)


def test_integer_targets_for_mse_take_the_prediction_dtype():
    loss = L.mse(np.array([1.0, 2.0], dtype=np.float32), [1, 4])
    assert type(loss) is np.float32 and loss == 2.0


@pytest.mark.parametrize("target_dtype", [np.int8, np.int32, np.uint8, np.int64])
def test_any_integer_dtype_is_accepted_as_class_targets(target_dtype):
    logits, targets = _classes(np.random.default_rng(15), (4, 3))
    np.testing.assert_allclose(L.cross_entropy(logits, targets.astype(target_dtype)),
                               L.cross_entropy(logits, targets), rtol=0)


# errors: every public function, forward and backward, with its first argument's name

BINARY_FIRST_ARGUMENT = {"binary_cross_entropy": "p", "binary_cross_entropy_with_logits": "z"}
CLASS_FIRST_ARGUMENT = {"cross_entropy": "logits", "nll_loss": "log_probs"}


def _both(names):
    return [getattr(L, n) for name in names for n in (name, f"{name}_backward")]


@pytest.mark.parametrize("fn", _both(["mse"]))
def test_mse_rejects_targets_of_another_shape(fn):
    with pytest.raises(ValueError, match=r"y_true must have the shape of y_pred, \(3,\); got \(3, 1\)\. "
                                         r"Give one target per prediction .*y_true\.reshape\(y_pred\.shape\)"):
        fn(np.ones(3), np.ones((3, 1)))


@pytest.mark.parametrize("name", BINARY)
def test_binary_losses_reject_targets_of_another_shape(name):
    first = BINARY_FIRST_ARGUMENT[name]
    for fn in _both([name]):
        with pytest.raises(ValueError, match=rf"y must have the shape of {first}, \(2,\); got \(1, 2\)"):
            fn(np.full(2, 0.5), np.ones((1, 2)))


@pytest.mark.parametrize("fn", _both(ELEMENTWISE))
def test_empty_inputs_are_rejected(fn):
    with pytest.raises(ValueError, match=r"must have at least one element; got shape \(0,\)\. The mean over "
                                         r"an empty batch is undefined"):
        fn(np.ones(0), np.ones(0))


@pytest.mark.parametrize("fn", _both(ELEMENTWISE))
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_infinite_predictions_are_rejected(fn, bad):
    with pytest.raises(ValueError, match=rf"must not contain NaN or infinite values; found {bad} at index "
                                         r"\(1,\)"):
        fn(np.array([0.5, bad]), np.array([1.0, 0.0]))


@pytest.mark.parametrize("fn", _both(["mse"]))
def test_nan_targets_are_rejected(fn):
    with pytest.raises(ValueError, match=r"y_true must not contain NaN or infinite values; found nan"):
        fn(np.ones(2), np.array([1.0, np.nan]))


@pytest.mark.parametrize("fn", _both(BINARY))
@pytest.mark.parametrize("bad", [-1.0, 1.5])
def test_binary_targets_outside_the_unit_interval_are_rejected(fn, bad):
    with pytest.raises(ValueError, match=rf"y must hold targets \(0/1 labels or probabilities\) in \[0, 1\]; "
                                         rf"got {bad} at index \(1,\) \(1 such entries of 3\)\. If your labels "
                                         r"are -1 and 1, map them with \(y \+ 1\) / 2"):
        fn(np.full(3, 0.5), np.array([1.0, bad, 0.0]))


@pytest.mark.parametrize("fn", _both(["binary_cross_entropy"]))
@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_probabilities_outside_the_unit_interval_are_rejected(fn, bad):
    with pytest.raises(ValueError, match=rf"p must hold probabilities in \[0, 1\]; got {bad} at index \(0,\) "
                                         r".*use binary_cross_entropy_with_logits"):
        fn(np.array([bad, 0.5]), np.array([1.0, 0.0]))


@pytest.mark.parametrize("name", CLASSIFICATION)
def test_scores_that_are_not_2d_are_rejected(name):
    first = CLASS_FIRST_ARGUMENT[name]
    for fn in _both([name]):
        with pytest.raises(ValueError, match=rf"{first} must be 2-D with shape \(N, C\), one row of C class "
                                             rf"scores per example; got shape \(3,\)\. For a single example "
                                             rf"use {first}\[None, :\]"):
            fn(np.ones(3), np.array(0))


@pytest.mark.parametrize("fn", _both(CLASSIFICATION))
def test_an_empty_batch_of_scores_is_rejected(fn):
    with pytest.raises(ValueError, match=r"must hold at least one example \(N >= 1\); got shape \(0, 3\)"):
        fn(np.ones((0, 3)), np.zeros(0, dtype=np.int64))


@pytest.mark.parametrize("fn", _both(CLASSIFICATION))
def test_infinite_scores_are_rejected(fn):
    with pytest.raises(ValueError, match=r"must not contain NaN or infinite values; found -inf at index "
                                         r"\(0, 1\)"):
        fn(np.array([[0.0, -np.inf]]), np.array([0]))


@pytest.mark.parametrize("fn", _both(CLASSIFICATION))
@pytest.mark.parametrize("targets", [np.array([0.0, 1.0]), np.array([True, False]), ["a", "b"]])
def test_non_integer_class_targets_are_a_type_error(fn, targets):
    dtype = str(np.asarray(targets).dtype)
    with pytest.raises(TypeError, match=rf"targets must hold integer class indices; got an array of dtype "
                                        rf"{dtype}\. Convert whole numbers with targets\.astype\(np\.int64\); "
                                        r"for one-hot rows pass targets\.argmax\(axis=1\)"):
        fn(np.zeros((2, 3)), targets)


@pytest.mark.parametrize("fn", _both(CLASSIFICATION))
@pytest.mark.parametrize("shape", [(2, 1), (3,), ()])
def test_class_targets_of_the_wrong_shape_are_rejected(fn, shape):
    with pytest.raises(ValueError, match=r"targets must have shape \(N,\) = \(2,\), one class index per row "
                                         rf"of .* \(2, 3\); got shape {re.escape(str(shape))}\. Flatten a "
                                         r"column with targets\.reshape\(-1\)"):
        fn(np.zeros((2, 3)), np.zeros(shape, dtype=np.int64))


@pytest.mark.parametrize("fn", _both(CLASSIFICATION))
@pytest.mark.parametrize("bad", [3, -1])
def test_class_targets_out_of_range_are_rejected(fn, bad):
    with pytest.raises(ValueError, match=rf"targets must be class indices in \[0, C\) = \[0, 3\); got {bad} at "
                                         r"index 1\. Indices start at 0 \(subtract 1 from 1-based labels\)"):
        fn(np.zeros((2, 3)), np.array([0, bad]))


@pytest.mark.parametrize("fn", _both(CLASSIFICATION))
def test_non_numeric_scores_are_a_type_error(fn):
    with pytest.raises(TypeError, match=r"must hold real numbers .* got an array of dtype <U1"):
        fn(np.array([["a", "b"]]), np.array([0]))
