"""dlref.models.MixtureOfExperts: finite differences, PyTorch float64 as the oracle, routing, learning, errors."""

import numpy as np
import pytest
import torch

from dlref.gradcheck import numerical_gradients, relative_error
from dlref.models import MLP, MixtureOfExperts

TORCH_ACTIVATIONS = {"tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "gelu": torch.nn.GELU}
CONFIGS = [  # expert widths, number of experts, gate hidden sizes, activation
    ((3, 5, 2), 3, (), "tanh"),
    ((2, 4, 4, 1), 2, (6,), "gelu"),
    ((1, 1), 4, (), "relu"),
    ((4, 3, 3), 1, (2, 3), "tanh"),
]


def _torch_sequential(params, prefix, n_layers, activation):
    layers = []
    for layer in range(1, n_layers + 1):
        W = torch.tensor(params[f"{prefix}W{layer}"], requires_grad=True)
        b = torch.tensor(params[f"{prefix}b{layer}"], requires_grad=True)
        layers.append((W, b))
    act = TORCH_ACTIVATIONS[activation]()

    def run(x):
        for layer, (W, b) in enumerate(layers, start=1):
            x = torch.nn.functional.linear(x, W, b)
            if layer < n_layers:
                x = act(x)
        return x

    tensors = {f"{prefix}{kind}{layer}": t for layer, (W, b) in enumerate(layers, start=1)
               for kind, t in (("W", W), ("b", b))}
    return run, tensors


def _torch_mixture(model, widths, gate_hidden, activation):
    """The mixture written independently with torch ops, from the same weights."""
    gate, tensors = _torch_sequential(model.params, "gate.", len(gate_hidden) + 1, activation)
    experts = []
    for k in range(model.n_experts):
        expert, expert_tensors = _torch_sequential(model.params, f"experts.{k}.", len(widths) - 1, activation)
        experts.append(expert)
        tensors.update(expert_tensors)

    def run(x):
        g = torch.softmax(gate(x), dim=1)
        return sum(g[:, k:k + 1] * expert(x) for k, expert in enumerate(experts))

    return run, tensors


def _randomised_model(widths, n_experts, gate_hidden, activation, seed):
    rng = np.random.default_rng(seed)
    model = MixtureOfExperts(widths, n_experts, activation, rng=rng, gate_hidden=gate_hidden)
    # Every parameter random and of order one, biases too, so that no gate weight is near uniform.
    model.params = {name: rng.normal(size=p.shape) for name, p in model.params.items()}
    return model, rng


@pytest.mark.parametrize("widths, n_experts, gate_hidden, activation", CONFIGS)
def test_forward_and_gradients_match_torch(widths, n_experts, gate_hidden, activation):
    model, rng = _randomised_model(widths, n_experts, gate_hidden, activation, seed=len(widths) + n_experts)
    x = rng.normal(size=(7, widths[0]))
    dy = rng.normal(size=(7, widths[-1]))

    run, tensors = _torch_mixture(model, widths, gate_hidden, activation)
    y_torch = run(torch.tensor(x))
    y_torch.backward(torch.tensor(dy))
    y, cache = model.forward(x)
    grads = model.backward(dy, cache)

    np.testing.assert_allclose(y, y_torch.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert list(grads) == list(model.params)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, tensors[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("widths, n_experts, gate_hidden, activation",
                         [c for c in CONFIGS if c[3] != "relu"])  # ReLU's kink spoils central differences
def test_gradients_match_finite_differences(widths, n_experts, gate_hidden, activation):
    model, rng = _randomised_model(widths, n_experts, gate_hidden, activation, seed=11)
    x = rng.normal(size=(5, widths[0]))
    dy = rng.normal(size=(5, widths[-1]))

    def output(params):
        model.params = params
        return model.forward(x)[0]

    analytic = model.backward(dy, model.forward(x)[1])
    numeric = numerical_gradients(output, dict(model.params), dy)
    for name in analytic:
        assert relative_error(analytic[name], numeric[name]) < 1e-7, name


def test_mse_loss_and_grads_match_finite_differences():
    model, rng = _randomised_model((2, 3, 2), 2, (), "tanh", seed=5)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))

    def loss(params):
        model.params = params
        return np.array(model.loss_and_grads(x, y)[0])

    _, analytic = model.loss_and_grads(x, y)
    numeric = numerical_gradients(loss, dict(model.params), np.array(1.0))
    for name in analytic:
        assert relative_error(analytic[name], numeric[name]) < 1e-7, name


def _torch_mixture_nll(model, x, y, sigma):
    """Jacobs et al.'s objective written with torch ops, from the same weights."""
    widths = model._experts[0].widths
    gate_layers = len(model._gate.widths) - 1
    gate, tensors = _torch_sequential(model.params, "gate.", gate_layers, "tanh")
    outputs = []
    for k in range(model.n_experts):
        expert, expert_tensors = _torch_sequential(model.params, f"experts.{k}.", len(widths) - 1, "tanh")
        outputs.append(expert(x))
        tensors.update(expert_tensors)
    expert_outputs = torch.stack(outputs, dim=1)
    log_g = torch.log_softmax(gate(x), dim=1)
    squared = ((expert_outputs - y[:, None, :]) ** 2).sum(dim=2)
    loss = -torch.logsumexp(log_g - squared / (2 * sigma**2), dim=1).mean()
    return loss, tensors


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5])
def test_mixture_nll_and_its_gradients_match_torch(sigma):
    model, rng = _randomised_model((3, 4, 2), 3, (5,), "tanh", seed=int(10 * sigma))
    x, y = rng.normal(size=(9, 3)), rng.normal(size=(9, 2))
    loss_torch, tensors = _torch_mixture_nll(model, torch.tensor(x), torch.tensor(y), sigma)
    loss_torch.backward()
    loss, grads = model.loss_and_grads(x, y, "mixture_nll", sigma=sigma)

    np.testing.assert_allclose(loss, loss_torch.item(), rtol=1e-12)
    assert list(grads) == list(model.params)
    for name, grad in grads.items():
        np.testing.assert_allclose(grad, tensors[name].grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_mixture_nll_gradients_match_finite_differences():
    model, rng = _randomised_model((2, 3, 2), 3, (), "tanh", seed=4)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))

    def loss(params):
        model.params = params
        return np.array(model.loss_and_grads(x, y, "mixture_nll", sigma=0.7)[0])

    _, analytic = model.loss_and_grads(x, y, "mixture_nll", sigma=0.7)
    numeric = numerical_gradients(loss, dict(model.params), np.array(1.0))
    for name in analytic:
        assert relative_error(analytic[name], numeric[name]) < 1e-7, name


def test_mixture_nll_with_one_expert_is_the_scaled_squared_error():
    # With K = 1 the gate is 1 and the objective is sum_o (y - f)^2 / (2 sigma^2), averaged over examples.
    rng = np.random.default_rng(6)
    model = MixtureOfExperts((3, 4, 2), 1, rng=rng)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    out, _ = model.forward(x)
    loss, _ = model.loss_and_grads(x, y, "mixture_nll", sigma=0.5)
    np.testing.assert_allclose(loss, np.sum((y - out) ** 2) / (2 * 0.5**2) / 5, rtol=1e-13)


def test_one_expert_is_that_expert_and_its_gate_gets_no_gradient():
    rng = np.random.default_rng(2)
    model = MixtureOfExperts((3, 4, 2), 1, "tanh", rng=rng)
    expert = MLP((3, 4, 2), "tanh", rng=rng)
    expert.params = {name: model.params[f"experts.0.{name}"] for name in expert.params}
    x, dy = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    y, cache = model.forward(x)
    grads = model.backward(dy, cache)

    np.testing.assert_array_equal(cache.gate_probabilities, np.ones((5, 1)))
    np.testing.assert_allclose(y, expert.forward(x)[0], rtol=1e-15)
    np.testing.assert_allclose(grads["gate.W1"], 0.0, atol=1e-15)
    np.testing.assert_allclose(grads["experts.0.W1"], expert.backward(dy, expert.forward(x)[1])["W1"], rtol=1e-14)


def test_top1_routing_returns_the_chosen_experts_output():
    model, rng = _randomised_model((2, 5, 3), 4, (3,), "tanh", seed=8)
    x = rng.normal(size=(40, 2))
    _, cache = model.forward(x)
    chosen = cache.gate_probabilities.argmax(axis=1)
    assert len(np.unique(chosen)) > 1  # the check below must cover several experts

    np.testing.assert_allclose(model.predict(x, routing="top1"), cache.expert_outputs[np.arange(40), chosen],
                               rtol=1e-14)
    np.testing.assert_array_equal(model.predict(x), model.forward(x)[0])
    np.testing.assert_allclose(model.gate_probabilities(x), cache.gate_probabilities, rtol=1e-15)


def test_float32_is_kept():
    model = MixtureOfExperts((2, 3, 1), 2, rng=np.random.default_rng(0), dtype=np.float32)
    x = np.ones((4, 2), dtype=np.float32)
    y, cache = model.forward(x)
    grads = model.backward(np.ones((4, 1), dtype=np.float32), cache)
    assert y.dtype == np.float32
    assert model.predict(x, routing="top1").dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads.values())


def test_gate_learns_to_split_a_piecewise_function_between_two_experts():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(256, 1))
    y = np.where(x < 0, np.sin(2 * np.pi * x), 1 - 2 * x)
    model = MixtureOfExperts((1, 8, 1), 2, "tanh", rng=np.random.default_rng(0))
    history = model.fit(x, y, epochs=600, batch_size=256, rng=np.random.default_rng(0),
                        optimizer_kwargs={"lr": 2e-2})

    grid = np.linspace(-1, 1, 401)[:, None]
    winner = model.gate_probabilities(grid).argmax(axis=1)
    left, right = winner[grid[:, 0] < -0.1], winner[grid[:, 0] > 0.1]
    left_expert = np.bincount(left, minlength=2).argmax()
    assert np.mean(left == left_expert) > 0.9
    assert np.mean(right == 1 - left_expert) > 0.9
    assert history["loss"][-1] < 0.05 * history["loss"][0]

    # Trained on the blend, the experts cooperate: one expert alone is a poor fit of its region. The
    # competitive objective makes each expert fit its own region, so routing to one expert works.
    target = np.where(grid < 0, np.sin(2 * np.pi * grid), 1 - 2 * grid)
    soft_error = np.mean((model.predict(grid) - target) ** 2)
    assert np.mean((model.predict(grid, routing="top1") - target) ** 2) > 10 * soft_error
    history = model.fit(x, y, epochs=300, batch_size=256, rng=np.random.default_rng(0),
                        optimizer_kwargs={"lr": 2e-2}, loss="mixture_nll", sigma=0.1,
                        validation=(x[:50], y[:50]))
    assert len(history["val_loss"]) == 300
    assert np.mean((model.predict(grid, routing="top1") - target) ** 2) < 0.03


def test_bad_construction_and_inputs_are_rejected():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"expert_widths must list at least the input and the output size"):
        MixtureOfExperts((3,), 2, rng=rng)
    with pytest.raises(ValueError, match=r"n_experts must be an int >= 1; got 0"):
        MixtureOfExperts((3, 1), 0, rng=rng)
    with pytest.raises(TypeError, match=r"n_experts must be an int"):
        MixtureOfExperts((3, 1), 2.0, rng=rng)
    with pytest.raises(ValueError, match=r"activation must be the name of a dlref.activations function"):
        MixtureOfExperts((3, 1), 2, "sigmoidal", rng=rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        MixtureOfExperts((3, 1), 2, rng=1)
    model = MixtureOfExperts((3, 2), 2, rng=rng)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\), the input width of the experts; "
                                         r"got \(4, 2\)"):
        model.forward(np.ones((4, 2)))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 3\)"):
        model.gate_probabilities(np.ones(3))
    _, cache = model.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"dy must have the shape of the forward output, \(4, 2\); got \(4, 1\)"):
        model.backward(np.ones((4, 1)), cache)
    with pytest.raises(ValueError, match=r"routing must be one of 'soft', 'top1'; got 'top2'"):
        model.predict(np.ones((4, 3)), routing="top2")
    with pytest.raises(ValueError, match=r"y_true must have the shape of y_pred, \(4, 2\)"):
        model.loss_and_grads(np.ones((4, 3)), np.ones(4))
    with pytest.raises(ValueError, match=r"y must have the shape of the model's output, \(4, 2\); got \(4,\)"):
        model.loss_and_grads(np.ones((4, 3)), np.ones(4), "mixture_nll")
    with pytest.raises(ValueError, match=r"loss must be one of 'mse', 'mixture_nll'; got 'mae'"):
        model.loss_and_grads(np.ones((4, 3)), np.ones((4, 2)), "mae")
    with pytest.raises(ValueError, match=r"sigma must be in \(0.0, inf\]; got 0.0"):
        model.loss_and_grads(np.ones((4, 3)), np.ones((4, 2)), "mixture_nll", sigma=0.0)
    with pytest.raises(ValueError, match=r"loss must be one of 'mse', 'mixture_nll'"):
        model.fit(np.ones((4, 3)), np.ones((4, 2)), epochs=1, batch_size=2, rng=rng, loss="nll")
    model.params = {name: p for name, p in model.params.items() if name != "gate.b1"}
    with pytest.raises(ValueError, match=r"params must have the keys .*; missing \['gate.b1'\], unexpected \[\]"):
        model.forward(np.ones((4, 3)))
