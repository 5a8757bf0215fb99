"""dlref.models.perceptron: the learning rule against its formula, convergence, XOR, Novikoff's bound, errors."""

import numpy as np
import pytest

from dlref.data import xor
from dlref.models import Perceptron, mistake_bound, perceptron_update

XOR_CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def _separable(n, rng, margin=0.2):
    """Points in the square [-2, 2]^2 labelled by the side of the line x1 + 2 x2 = 0.5, none within `margin`."""
    w_true, b_true = np.array([[1.0, 2.0]]), np.array([-0.5])
    X = rng.uniform(-2.0, 2.0, size=(4 * n, 2))
    distance = (X @ w_true[0] + b_true[0]) / np.linalg.norm(w_true)
    X, distance = X[np.abs(distance) > margin][:n], distance[np.abs(distance) > margin][:n]
    return X, (distance > 0).astype(np.int64), w_true, b_true


def test_update_after_a_false_negative_adds_lr_times_x():
    params = {"W": np.array([[0.5, -1.0]]), "b": np.array([0.25])}
    # z = 0.5 * 2 - 1 * 3 + 0.25 = -1.75 < 0, so the unit says 0 for a 1
    new, error = perceptron_update(params, np.array([2.0, 3.0]), 1, lr=0.1)
    assert error == 1
    np.testing.assert_allclose(new["W"], [[0.7, -0.7]], rtol=1e-15)
    np.testing.assert_allclose(new["b"], [0.35], rtol=1e-15)
    # the inputs are left as they were
    np.testing.assert_array_equal(params["W"], [[0.5, -1.0]])
    np.testing.assert_array_equal(params["b"], [0.25])


def test_update_after_a_false_positive_subtracts_lr_times_x():
    params = {"W": np.array([[1.0, 1.0]]), "b": np.array([0.0])}
    new, error = perceptron_update(params, np.array([0.5, -0.25]), 0, lr=2.0)  # z = 0.25 > 0
    assert error == -1
    np.testing.assert_array_equal(new["W"], [[0.0, 1.5]])
    np.testing.assert_array_equal(new["b"], [-2.0])


@pytest.mark.parametrize("y", [0, 1])
def test_no_update_when_right_and_a_tie_counts_as_class_0(y):
    params = {"W": np.array([[1.0, -1.0]]), "b": np.array([0.0])}
    x = np.array([3.0, 3.0])  # z = 0 exactly, and H(0) = 0
    new, error = perceptron_update(params, x, y, lr=1.0)
    assert error == y
    np.testing.assert_array_equal(new["W"], params["W"] + y * x)
    np.testing.assert_array_equal(new["b"], params["b"] + y)


def test_update_equals_the_formula_on_random_examples():
    rng = np.random.default_rng(0)
    for _ in range(200):
        d = int(rng.integers(1, 6))
        W, b, x = rng.normal(size=(1, d)), rng.normal(size=1), rng.normal(size=d)
        y, lr = int(rng.integers(0, 2)), float(rng.uniform(0.01, 3.0))
        y_hat = 1 if float(np.dot(W[0], x) + b[0]) > 0 else 0
        new, error = perceptron_update({"W": W, "b": b}, x, y, lr=lr)
        assert error == y - y_hat
        np.testing.assert_allclose(new["W"][0], W[0] + lr * (y - y_hat) * x, rtol=1e-15, atol=1e-15)
        np.testing.assert_allclose(new["b"], b + lr * (y - y_hat), rtol=1e-15, atol=1e-15)


@pytest.mark.parametrize("shuffle", [False, True])
def test_converges_on_separable_data_within_novikoffs_bound(shuffle):
    X, y, w_true, b_true = _separable(200, np.random.default_rng(1))
    model = Perceptron(2)
    history = model.fit(X, y, epochs=1000, rng=np.random.default_rng(2) if shuffle else None)
    assert history.converged
    assert history.mistakes[-1] == 0 and min(history.mistakes[:-1]) > 0
    np.testing.assert_array_equal(model.predict(X), y)
    assert sum(history.mistakes) <= mistake_bound(X, y, w_true, b_true)
    # the learned hyperplane separates too, so it gives a bound of its own
    assert sum(history.mistakes) <= mistake_bound(X, y, model.params["W"], model.params["b"])


def test_learns_and_and_or_but_never_xor():
    for labels in ([0, 0, 0, 1], [0, 1, 1, 1]):
        assert Perceptron(2).fit(XOR_CORNERS, np.array(labels), epochs=100).converged
    history = Perceptron(2).fit(XOR_CORNERS, np.array([0, 1, 1, 0]), epochs=500)
    assert not history.converged
    assert len(history.mistakes) == 500 and min(history.mistakes) >= 1


def test_never_reaches_zero_mistakes_on_noisy_xor():
    X, y = xor(60, np.random.default_rng(0), noise=0.1)
    model = Perceptron(2)
    history = model.fit(X, y, epochs=200, rng=np.random.default_rng(1))
    assert not history.converged and min(history.mistakes) >= 1
    assert np.mean(model.predict(X) == y) < 1.0


def test_learning_rate_only_scales_the_weights_from_zero():
    X, y, _, _ = _separable(100, np.random.default_rng(3))
    slow, fast = Perceptron(2, lr=0.01), Perceptron(2, lr=1.0)
    h_slow, h_fast = slow.fit(X, y, epochs=100), fast.fit(X, y, epochs=100)
    assert h_slow == h_fast
    np.testing.assert_allclose(slow.params["W"] * 100, fast.params["W"], rtol=1e-12)
    np.testing.assert_allclose(slow.params["b"] * 100, fast.params["b"], rtol=1e-12)


def test_fit_resumes_and_keeps_float32():
    X, y, _, _ = _separable(50, np.random.default_rng(4))
    model = Perceptron(2, dtype=np.float32)
    first = model.fit(X.astype(np.float32), y, epochs=1)
    assert model.params["W"].dtype == np.float32 and model.params["b"].dtype == np.float32
    assert model.decision_function(X.astype(np.float32)).dtype == np.float32
    assert model.predict(X).dtype == np.int64
    rest = model.fit(X, y, epochs=1000)
    assert rest.converged and first.mistakes[0] > 0


def test_mistake_bound_by_hand():
    # R^2 = max(|x|^2 + 1) = 4 + 1; the unit separator (1, 0, 0) has margin 1 at x1 = +-1.
    X = np.array([[-1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    assert mistake_bound(X, np.array([0, 1, 1]), np.array([[3.0, 0.0]]), np.array([0.0])) == pytest.approx(5.0)


def test_bad_inputs_are_rejected():
    model = Perceptron(2)
    X, y = XOR_CORNERS, np.array([0, 1, 1, 0])
    with pytest.raises(ValueError, match=r"y must hold the labels 0 and 1; got -1 at index 0\. If your labels "
                                         r"are -1 and 1, map them with \(y \+ 1\) // 2"):
        model.fit(X, np.array([-1, 1, 1, -1]), epochs=1)
    with pytest.raises(ValueError, match=r"y must have shape \(4,\), one label per example of X; got \(3,\)"):
        model.fit(X, y[:3], epochs=1)
    with pytest.raises(TypeError, match="y must hold the labels 0 and 1; got an array of dtype <U1"):
        model.fit(X, np.array(["a", "b", "a", "b"]), epochs=1)
    with pytest.raises(ValueError, match=r"X must have shape \(N, 2\), one row per example; got \(4, 3\)"):
        model.fit(np.ones((4, 3)), y, epochs=1)
    with pytest.raises(ValueError, match="X must not contain NaN or infinite values"):
        model.predict(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="epochs must be an int >= 1; got 0"):
        model.fit(X, y, epochs=0)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        model.fit(X, y, epochs=1, rng=0)
    with pytest.raises(ValueError, match=r"lr must be in \(0.0, inf\]; got 0.0"):
        Perceptron(2, lr=0.0)
    with pytest.raises(ValueError, match="n_features must be an int >= 1; got 0"):
        Perceptron(0)
    with pytest.raises(ValueError, match="dtype must be numpy.float32 or numpy.float64; got int64"):
        Perceptron(2, dtype=np.int64)


def test_bad_update_arguments_are_rejected():
    params = {"W": np.zeros((1, 2)), "b": np.zeros(1)}
    with pytest.raises(TypeError, match=r"params must be a dict with the keys 'W' .* got \['W'\]"):
        perceptron_update({"W": np.zeros((1, 2))}, np.zeros(2), 1)
    with pytest.raises(ValueError, match=r"params\['W'\] must have shape \(1, n_features\) and params\['b'\] "
                                         r"shape \(1,\).*got \(2, 2\) and \(1,\)"):
        perceptron_update({"W": np.zeros((2, 2)), "b": np.zeros(1)}, np.zeros(2), 1)
    with pytest.raises(ValueError, match=r"x must be one example of shape \(2,\) .* got \(1, 2\)"):
        perceptron_update(params, np.zeros((1, 2)), 1)
    with pytest.raises(ValueError, match=r"y must be the single label \(0 or 1\) of x; got an array of shape "
                                         r"\(1,\)"):
        perceptron_update(params, np.zeros(2), np.array([1]))
    with pytest.raises(ValueError, match="y must hold the labels 0 and 1; got 2 at index 0"):
        perceptron_update(params, np.zeros(2), 2)
    with pytest.raises(ValueError, match=r"lr must be in \(0.0, inf\]; got -1.0"):
        perceptron_update(params, np.zeros(2), 1, lr=-1.0)
    with pytest.raises(ValueError, match=r"W and b must separate the classes.*smallest signed margin is -1"):
        mistake_bound(XOR_CORNERS[:2], np.array([1, 0]), np.array([[0.0, 1.0]]), np.array([0.0]))
