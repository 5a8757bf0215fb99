"""MLP regularisers (dropout, batch norm, L1/L2, early stopping): torch float64, finite differences, learning."""

import numpy as np
import pytest
import torch

from dlref.data import load_digits
from dlref.gradcheck import numerical_gradients, relative_error
from dlref.losses import cross_entropy
from dlref.models import MLP

TORCH_ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


def _randomised_model(widths, activation, seed, **options):
    """An MLP whose batch-norm parameters and running statistics are random too, not ones and zeros."""
    rng = np.random.default_rng(seed)
    model = MLP(widths, activation, rng=rng, **options)
    for key in model.params:
        if key.startswith(("gamma", "beta")):
            model.params[key] = rng.normal(size=model.params[key].shape)
    for key in model.buffers:
        model.buffers[key] = (rng.uniform(0.5, 2.0, size=model.buffers[key].shape) if "var" in key
                              else rng.normal(size=model.buffers[key].shape))
    return model


def _torch_objective(model, buffers, x, y, masks=(), l1=0.0, l2=0.0):
    """The model's training objective in torch, from the running statistics `buffers` and our dropout masks.

    Returns the objective, the gradients of our parameters, and torch's BatchNorm1d modules, whose buffers
    torch has updated.
    """
    params = {key: torch.tensor(value, requires_grad=True) for key, value in model.params.items()}
    norms = {}
    h = torch.tensor(x)
    for layer in range(1, model.n_layers + 1):
        h = torch.nn.functional.linear(h, params[f"W{layer}"], params[f"b{layer}"])
        if layer == model.n_layers:
            break
        if model.batch_norm:
            norm = torch.nn.BatchNorm1d(h.shape[1], dtype=torch.float64)
            norm.running_mean.copy_(torch.tensor(buffers[f"running_mean{layer}"]))
            norm.running_var.copy_(torch.tensor(buffers[f"running_var{layer}"]))
            # torch's defaults (momentum 0.1, eps 1e-5) with our gamma and beta as the leaves to differentiate.
            h = torch.nn.functional.batch_norm(h, norm.running_mean, norm.running_var, params[f"gamma{layer}"],
                                               params[f"beta{layer}"], True, norm.momentum, norm.eps)
            norms[layer] = norm
        h = TORCH_ACTIVATIONS[model.activation](h)
        if masks:
            h = h * torch.tensor(masks[layer - 1])
    objective = torch.nn.functional.cross_entropy(h, torch.tensor(y))
    for layer in range(1, model.n_layers + 1):
        W = params[f"W{layer}"]
        objective = objective + l1 * W.abs().sum() + 0.5 * l2 * (W * W).sum()
    objective.backward()
    return objective.item(), {key: p.grad.numpy() for key, p in params.items()}, norms


@pytest.mark.parametrize("activation", sorted(TORCH_ACTIVATIONS))
@pytest.mark.parametrize("options", [{"batch_norm": True}, {"dropout": 0.3}, {"batch_norm": True, "dropout": 0.5}])
def test_training_step_matches_torch_with_our_dropout_masks(options, activation):
    model = _randomised_model((5, 7, 6, 3), activation, seed=1, **options)
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(8, 5)) * 3 + 1, rng.integers(0, 3, size=8)
    before = {key: value.copy() for key, value in model.buffers.items()}
    _, cache = model.forward(x, training=True, rng=np.random.default_rng(3))  # to read the masks
    model.buffers = {key: value.copy() for key, value in before.items()}

    loss, grads = model.loss_and_grads(x, y, rng=np.random.default_rng(3), l1=0.01, l2=0.02)
    expected_loss, expected_grads, norms = _torch_objective(model, before, x, y, cache.dropout_masks,
                                                            l1=0.01, l2=0.02)

    assert len(cache.dropout_masks) == (2 if model.dropout else 0)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-10)
    assert grads.keys() == model.params.keys()
    for key in model.params:
        np.testing.assert_allclose(grads[key], expected_grads[key], rtol=1e-8, atol=1e-10, err_msg=key)
    for layer, norm in norms.items():  # the training forward pass moved the running statistics as torch's
        np.testing.assert_allclose(model.buffers[f"running_mean{layer}"], norm.running_mean.numpy(), rtol=1e-8)
        np.testing.assert_allclose(model.buffers[f"running_var{layer}"], norm.running_var.numpy(), rtol=1e-8)


@pytest.mark.parametrize("options", [{"batch_norm": True}, {"dropout": 0.5}, {"batch_norm": True, "dropout": 0.5}])
def test_evaluation_mode_matches_torch_and_changes_nothing(options):
    model = _randomised_model((4, 6, 6, 3), "relu", seed=4, **options)
    x = np.random.default_rng(5).normal(size=(5, 4))
    buffers = {key: value.copy() for key, value in model.buffers.items()}
    out, cache = model.forward(x)
    again, _ = model.forward(x)

    net = [torch.nn.Linear(4, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(), torch.nn.Dropout(0.5),
           torch.nn.Linear(6, 6), torch.nn.BatchNorm1d(6), torch.nn.ReLU(), torch.nn.Dropout(0.5),
           torch.nn.Linear(6, 3)]
    net = torch.nn.Sequential(*(m for m in net if model.batch_norm or not isinstance(m, torch.nn.BatchNorm1d)))
    net = net.double().eval()
    torch.nn.utils.vector_to_parameters(
        torch.tensor(np.concatenate([p.ravel() for p in model.params.values()])), net.parameters())
    for layer, norm in enumerate((m for m in net if isinstance(m, torch.nn.BatchNorm1d)), start=1):
        norm.running_mean.copy_(torch.tensor(model.buffers[f"running_mean{layer}"]))
        norm.running_var.copy_(torch.tensor(model.buffers[f"running_var{layer}"]))
    with torch.no_grad():
        expected = net(torch.tensor(x)).numpy()

    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(out, again)
    assert cache.dropout_masks == ()
    for key, value in buffers.items():
        np.testing.assert_array_equal(model.buffers[key], value)


@pytest.mark.parametrize("options", [{"batch_norm": True, "dropout": 0.4}, {"dropout": 0.2}, {}])
def test_objective_gradients_match_finite_differences(options):
    model = _randomised_model((4, 5, 5, 3), "tanh", seed=6, **options)
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(7, 4)), rng.integers(0, 3, size=7)
    buffers = dict(model.buffers)

    def objective(params):  # the same masks every call; the running statistics do not enter the gradient
        model.params, model.buffers = params, dict(buffers)
        return np.array(model.loss_and_grads(x, y, rng=np.random.default_rng(8), l1=0.03, l2=0.05)[0])

    _, analytic = model.loss_and_grads(x, y, rng=np.random.default_rng(8), l1=0.03, l2=0.05)
    numeric = numerical_gradients(objective, dict(model.params), np.array(1.0))
    for key in analytic:
        if model.batch_norm and key in ("b1", "b2"):
            # Batch norm subtracts the batch mean, which absorbs the bias before it: its gradient is zero.
            np.testing.assert_allclose(analytic[key], 0.0, atol=1e-12)
            np.testing.assert_allclose(numeric[key], 0.0, atol=1e-9)
        else:
            assert relative_error(analytic[key], numeric[key]) < 1e-7, key


def test_penalties_apply_to_weights_only():
    model = MLP((3, 4, 2), "relu", rng=np.random.default_rng(9), batch_norm=True)
    x, y = np.random.default_rng(10).normal(size=(6, 3)), np.array([0, 1, 0, 1, 1, 0])
    plain_loss, plain = model.loss_and_grads(x, y)
    loss, penalised = model.loss_and_grads(x, y, l1=0.1, l2=0.2)
    W = [model.params["W1"], model.params["W2"]]
    expected_penalty = sum(0.1 * np.abs(w).sum() + 0.1 * (w**2).sum() for w in W)
    np.testing.assert_allclose(loss - plain_loss, expected_penalty, rtol=1e-12)
    for key in ("b1", "b2", "gamma1", "beta1"):
        np.testing.assert_array_equal(penalised[key], plain[key])
    np.testing.assert_allclose(penalised["W1"] - plain["W1"], 0.1 * np.sign(W[0]) + 0.2 * W[0], rtol=1e-12)


def test_batch_norm_adds_two_parameters_per_hidden_unit_and_buffers():
    plain = MLP((64, 32, 16, 10), rng=np.random.default_rng(0))
    normed = MLP((64, 32, 16, 10), rng=np.random.default_rng(0), batch_norm=True)
    assert normed.n_parameters() == plain.n_parameters() + 2 * (32 + 16)
    assert list(normed.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2", "W3", "b3"]
    assert sorted(normed.buffers) == ["running_mean1", "running_mean2", "running_var1", "running_var2"]
    assert plain.buffers == {}


def test_dropout_masks_differ_between_calls_and_average_out():
    model = MLP((4, 50, 3), "relu", rng=np.random.default_rng(11), dropout=0.5)
    x = np.random.default_rng(12).normal(size=(2, 4))
    rng = np.random.default_rng(13)
    first, _ = model.forward(x, training=True, rng=rng)
    second, _ = model.forward(x, training=True, rng=rng)
    assert not np.allclose(first, second)
    # The output is linear in the dropped hidden layer, so the training outputs average to the evaluation one.
    mean = np.mean([model.forward(x, training=True, rng=rng)[0] for _ in range(4000)], axis=0)
    np.testing.assert_allclose(mean, model.forward(x)[0], atol=0.02)


def test_early_stopping_restores_the_epoch_with_the_lowest_validation_loss():
    digits = load_digits()
    x, y = digits.X_train[:60], digits.y_train[:60]
    validation = (digits.X_test, digits.y_test)
    model = MLP((64, 128, 10), rng=np.random.default_rng(14))
    history = model.fit(x, y, epochs=200, batch_size=20, rng=np.random.default_rng(15),
                        optimizer_kwargs={"lr": 0.01}, validation=validation, patience=5)
    stopped_after = len(history["val_loss"])
    best = int(np.argmin(history["val_loss"]))
    assert stopped_after < 200
    assert stopped_after == best + 1 + 5
    restored = model.loss_and_grads(*validation)[0]
    np.testing.assert_allclose(restored, history["val_loss"][best], rtol=1e-12)
    assert restored < history["val_loss"][-1]


def test_early_stopping_also_restores_batch_norm_running_statistics():
    digits = load_digits()
    model = MLP((64, 32, 10), rng=np.random.default_rng(16), batch_norm=True)
    history = model.fit(digits.X_train[:60], digits.y_train[:60], epochs=40, batch_size=20,
                        rng=np.random.default_rng(17), optimizer_kwargs={"lr": 0.03},
                        validation=(digits.X_test, digits.y_test), patience=3)
    assert np.argmin(history["val_loss"]) < len(history["val_loss"]) - 1 < 39
    out, _ = model.forward(digits.X_test)
    np.testing.assert_allclose(cross_entropy(out, digits.y_test), min(history["val_loss"]), rtol=1e-12)


@pytest.mark.parametrize("options", [{"batch_norm": True}, {"dropout": 0.2}])
def test_regularised_networks_learn_the_digits(options):
    digits = load_digits()
    model = MLP((64, 128, 10), rng=np.random.default_rng(18), **options)
    model.fit(digits.X_train, digits.y_train, epochs=20, batch_size=32, rng=np.random.default_rng(19),
              optimizer_kwargs={"lr": 5e-3})
    assert model.accuracy(digits.X_test, digits.y_test) >= 0.96


def test_l1_makes_weights_sparse_and_l2_makes_them_small():
    digits = load_digits()
    x, y = digits.X_train[:200], digits.y_train[:200]
    weights = {}
    for name, penalty in (("none", {}), ("l1", {"l1": 1e-3}), ("l2", {"l2": 1e-2})):
        model = MLP((64, 64, 10), rng=np.random.default_rng(20))
        model.fit(x, y, epochs=60, batch_size=50, rng=np.random.default_rng(21), optimizer_kwargs={"lr": 3e-3},
                  **penalty)
        weights[name] = model.params["W1"]
    near_zero = {name: np.mean(np.abs(w) < 1e-2) for name, w in weights.items()}
    assert near_zero["l1"] > 2 * near_zero["none"]
    assert np.linalg.norm(weights["l2"]) < 0.8 * np.linalg.norm(weights["none"])


def test_bad_regularisation_options_are_rejected():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"dropout must be below 1: with p = 1 every hidden activation"):
        MLP((4, 3, 2), rng=rng, dropout=1.0)
    with pytest.raises(ValueError, match=r"dropout must be in \[0\.0, 1\.0\]; got -0\.1"):
        MLP((4, 3, 2), rng=rng, dropout=-0.1)
    with pytest.raises(TypeError, match=r"batch_norm must be True or False; got 'yes'"):
        MLP((4, 3, 2), rng=rng, batch_norm="yes")
    model = MLP((4, 3, 2), rng=rng, dropout=0.5)
    with pytest.raises(TypeError, match=r"rng must be a numpy\.random\.Generator; got None"):
        model.loss_and_grads(np.ones((2, 4)), np.array([0, 1]))
    with pytest.raises(TypeError, match=r"training must be True or False; got 'train'"):
        model.forward(np.ones((2, 4)), training="train")
    with pytest.raises(ValueError, match=r"l1 must be in \[0\.0, inf\]; got -1\.0"):
        model.loss_and_grads(np.ones((2, 4)), np.array([0, 1]), rng=rng, l1=-1.0)
    with pytest.raises(ValueError, match=r"patience needs validation=\(x_val, y_val\)"):
        model.fit(np.ones((2, 4)), np.array([0, 1]), epochs=1, batch_size=2, rng=rng, patience=3)
    with pytest.raises(ValueError, match=r"patience must be an int >= 1; got 0"):
        model.fit(np.ones((2, 4)), np.array([0, 1]), epochs=1, batch_size=2, rng=rng, patience=0,
                  validation=(np.ones((2, 4)), np.array([0, 1])))
