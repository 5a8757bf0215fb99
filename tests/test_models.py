"""dlref.models.MLP: gradients by finite differences and against torch, and learning checks."""

import numpy as np
import pytest
import torch

from dlref.data import load_digits
from dlref.gradcheck import numerical_gradients, relative_error
from dlref.init import he_normal
from dlref.models import MLP
from tests.torch_mlp import TORCH_ACTIVATIONS, torch_copy


@pytest.mark.parametrize("activation", sorted(TORCH_ACTIVATIONS))
@pytest.mark.parametrize("widths", [(5, 7, 3), (4, 6, 5, 2), (1, 1, 1)])
def test_forward_and_gradients_match_torch(activation, widths):
    rng = np.random.default_rng(len(widths) * 10 + len(activation))
    model = MLP(widths, activation, rng=rng)
    x = rng.normal(size=(6, widths[0]))
    y = rng.integers(0, widths[-1], size=6)

    net = torch_copy(model)
    loss_torch = torch.nn.functional.cross_entropy(net(torch.tensor(x)), torch.tensor(y))
    loss_torch.backward()
    loss, grads = model.loss_and_grads(x, y)

    np.testing.assert_allclose(loss, loss_torch.item(), rtol=1e-12)
    torch_grads = [p.grad.numpy() for p in net.parameters()]
    ours = [grads[f"{kind}{layer}"] for layer in range(1, model.n_layers + 1) for kind in "Wb"]
    for mine, theirs in zip(ours, torch_grads, strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss", ["cross_entropy", "bce_with_logits", "mse"])
def test_gradients_match_finite_differences(loss):
    rng = np.random.default_rng(3)
    n_out = 3 if loss == "cross_entropy" else 1
    model = MLP((4, 5, 5, n_out), "tanh", rng=rng)
    x = rng.normal(size=(7, 4))
    y = (rng.integers(0, 3, size=7) if loss == "cross_entropy"
         else rng.integers(0, 2, size=(7, 1)).astype(float) if loss == "bce_with_logits"
         else rng.normal(size=(7, 1)))

    def mean_loss(params):
        model.params = params
        return np.array(model.loss_and_grads(x, y, loss)[0])

    _, analytic = model.loss_and_grads(x, y, loss)
    numeric = numerical_gradients(mean_loss, dict(model.params), np.array(1.0))
    for key in analytic:
        assert relative_error(analytic[key], numeric[key]) < 1e-7, key


def test_custom_init_and_float32():
    model = MLP((3, 4, 2), "relu", rng=np.random.default_rng(0), init=he_normal, dtype=np.float32)
    assert all(p.dtype == np.float32 for p in model.params.values())
    np.testing.assert_array_equal(model.params["b1"], np.zeros(4, dtype=np.float32))
    out, _ = model.forward(np.ones((2, 3), dtype=np.float32))
    assert out.dtype == np.float32
    assert model.n_parameters() == 3 * 4 + 4 + 4 * 2 + 2


def test_digits_mlp_reaches_097_test_accuracy():
    digits = load_digits()
    model = MLP((64, 128, 10), "relu", rng=np.random.default_rng(0))
    history = model.fit(digits.X_train, digits.y_train, epochs=20, batch_size=32,
                        rng=np.random.default_rng(1), optimizer_kwargs={"lr": 1e-2},
                        validation=(digits.X_test, digits.y_test))
    assert history["loss"][0] > history["loss"][-1]
    assert abs(history["val_loss"][0] - history["loss"][0]) < 1.0
    assert model.accuracy(digits.X_test, digits.y_test) >= 0.97
    assert history["val_accuracy"][-1] == model.accuracy(digits.X_test, digits.y_test)


def test_untrained_classifier_loss_is_near_ln_c():
    digits = load_digits()
    model = MLP((64, 32, 10), "relu", rng=np.random.default_rng(0))
    loss, _ = model.loss_and_grads(digits.X_train, digits.y_train)
    assert abs(loss - np.log(10)) < 0.2


def test_bad_construction_and_inputs_are_rejected():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"widths must list at least the input and the output size"):
        MLP((4,), rng=rng)
    with pytest.raises(ValueError, match=r"activation must be the name of a dlref.activations function"):
        MLP((4, 2), "relu_backward", rng=rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        MLP((4, 2), rng=0)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 4\) for widths \(4, 2\); got \(3, 5\)"):
        MLP((4, 2), rng=rng).forward(np.ones((3, 5)))
    with pytest.raises(ValueError, match="loss must be one of"):
        MLP((4, 2), rng=rng).loss_and_grads(np.ones((1, 4)), np.array([0]), loss="hinge")
    model = MLP((4, 2), rng=rng)
    _, cache = model.forward(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"dout must have the shape of the network's output, \(3, 2\); got \(3, 1\)"):
        model.backward(np.ones((3, 1)), cache)


def test_fit_checks_every_target_before_training():
    """fit checks the data once, up front; a bad label in the last batch fails before any update."""
    model = MLP((4, 3), rng=np.random.default_rng(0))
    before = {key: value.copy() for key, value in model.params.items()}
    labels = np.array([0, 1, 2, 0, 1, 3])  # 3 is not a class of a 3-output network
    with pytest.raises(ValueError, match=r"targets must be class indices in \[0, C\) = \[0, 3\); got 3 at index 5"):
        model.fit(np.ones((6, 4)), labels, epochs=1, batch_size=2, rng=np.random.default_rng(1))
    with pytest.raises(ValueError, match=r"x must not contain NaN"):
        model.fit(np.full((6, 4), np.nan), labels % 3, epochs=1, batch_size=2, rng=np.random.default_rng(1))
    assert all(np.array_equal(model.params[key], before[key]) for key in before)


def test_float32_model_stays_float32_through_training_on_float64_data():
    model = MLP((4, 8, 3), rng=np.random.default_rng(0), dtype=np.float32)
    x = np.random.default_rng(1).normal(size=(20, 4))  # float64
    model.fit(x, np.arange(20) % 3, epochs=2, batch_size=5, rng=np.random.default_rng(2))
    assert all(p.dtype == np.float32 for p in model.params.values())


def test_input_gradient_matches_finite_differences():
    rng = np.random.default_rng(11)
    model = MLP((3, 5, 2), "tanh", rng=rng)
    x = rng.normal(size=(4, 3))
    dout = rng.normal(size=(4, 2))
    out, cache = model.forward(x)
    grads, dx = model.backward(dout, cache, return_input_grad=True)
    [numeric] = numerical_gradients(lambda a: model.forward(a)[0], [x], dout)
    assert relative_error(dx, numeric) < 1e-7
    assert sorted(grads) == sorted(model.params)
