"""dlref.models.sequence: the adding problem, RecurrentNetwork against torch and finite differences, and the
learning check of the long-range-memory page."""

import numpy as np
import pytest
import torch

from dlref.gradcheck import numerical_gradients, relative_error
from dlref.models.sequence import RecurrentNetwork, adding_problem
from dlref.optim import adam_step, clip_grad_norm

TORCH_NAMES = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}
TORCH_CELLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


# --------------------------------------------------------------------------------------------------------
# The adding problem
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("T", [2, 3, 10, 31])
def test_adding_problem_marks_exactly_one_step_in_each_half_and_sums_them(T):
    x, y = adding_problem(500, T, rng=np.random.default_rng(T))
    assert x.shape == (T, 500, 2) and y.shape == (500, 1)
    markers, values = x[:, :, 1], x[:, :, 0]
    assert set(np.unique(markers)) <= {0.0, 1.0}
    assert np.all(markers[: T // 2].sum(axis=0) == 1) and np.all(markers[T // 2:].sum(axis=0) == 1)
    assert np.all((values >= 0) & (values < 1))
    marked = np.sort(np.where(markers.T == 1, values.T, 0.0), axis=1)[:, -2:]
    np.testing.assert_allclose(y[:, 0], marked.sum(axis=1) if T > 2 else values.sum(axis=0), rtol=1e-12)


def test_adding_problem_marker_positions_cover_each_half_uniformly():
    T = 10
    x, _ = adding_problem(50_000, T, rng=np.random.default_rng(0))
    counts = x[:, :, 1].sum(axis=1)  # how often each step is marked
    np.testing.assert_allclose(counts / 50_000, 1 / (T // 2), rtol=0.05)


def test_predicting_the_mean_scores_one_sixth():
    _, y = adding_problem(400_000, 20, rng=np.random.default_rng(1))
    assert abs(np.mean(y) - 1.0) < 0.003
    assert abs(np.mean((y - 1.0) ** 2) - 1 / 6) < 0.002


def test_adding_problem_is_reproducible_and_validates_its_arguments():
    a = adding_problem(3, 5, rng=np.random.default_rng(7))
    b = adding_problem(3, 5, rng=np.random.default_rng(7))
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    with pytest.raises(ValueError, match=r"T must be an int >= 2; got 1"):
        adding_problem(3, 1, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"rng must be a numpy.random.Generator"):
        adding_problem(3, 5, rng=0)


# --------------------------------------------------------------------------------------------------------
# RecurrentNetwork: gradients
# --------------------------------------------------------------------------------------------------------

def _torch_copy(model):
    D, H = model.params["W_ih"].shape[1], model.params["W_hh"].shape[1]
    kwargs = {"nonlinearity": model.nonlinearity} if model.cell == "rnn" else {}
    recurrent = TORCH_CELLS[model.cell](D, H, dtype=torch.float64, **kwargs)
    head = torch.nn.Linear(H, model.params["W_out"].shape[0], dtype=torch.float64)
    with torch.no_grad():
        for ours, theirs in TORCH_NAMES.items():
            getattr(recurrent, theirs).copy_(torch.tensor(model.params[ours]))
        head.weight.copy_(torch.tensor(model.params["W_out"]))
        head.bias.copy_(torch.tensor(model.params["b_out"]))
    return recurrent, head


def _torch_forward(recurrent, head, x):
    out, _ = recurrent(torch.tensor(x))
    return head(out[-1])


@pytest.mark.parametrize("cell, nonlinearity", [("rnn", "tanh"), ("rnn", "relu"), ("lstm", "tanh"),
                                                ("gru", "tanh")])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
def test_loss_and_gradients_match_torch(cell, nonlinearity, loss):
    rng = np.random.default_rng(2)
    n_out = 3 if loss == "cross_entropy" else 2
    model = RecurrentNetwork(cell, 3, 5, n_out, rng=rng, nonlinearity=nonlinearity)
    x = rng.normal(size=(6, 4, 3))
    y = rng.integers(0, n_out, size=4) if loss == "cross_entropy" else rng.normal(size=(4, n_out))

    recurrent, head = _torch_copy(model)
    prediction = _torch_forward(recurrent, head, x)
    if loss == "mse":
        loss_torch = torch.nn.functional.mse_loss(prediction, torch.tensor(y))
    else:
        loss_torch = torch.nn.functional.cross_entropy(prediction, torch.tensor(y))
    loss_torch.backward()
    value, grads = model.loss_and_grads(x, y, loss)

    np.testing.assert_allclose(value, loss_torch.item(), rtol=1e-10)
    theirs = {ours: getattr(recurrent, name).grad.numpy() for ours, name in TORCH_NAMES.items()}
    theirs.update(W_out=head.weight.grad.numpy(), b_out=head.bias.grad.numpy())
    assert grads.keys() == model.params.keys()
    for name, value in theirs.items():
        np.testing.assert_allclose(grads[name], value, rtol=1e-8, atol=1e-10, err_msg=name)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradients_match_finite_differences(cell):
    rng = np.random.default_rng(3)
    model = RecurrentNetwork(cell, 2, 3, 1, rng=rng)
    x, y = adding_problem(4, 5, rng=rng)

    def prediction(params):
        model.params = params
        return model.forward(x)[0]

    dout = rng.normal(size=(4, 1))
    params = {name: p.copy() for name, p in model.params.items()}
    numeric = numerical_gradients(prediction, params, dout)
    model.params = params
    _, cache = model.forward(x)
    analytic = model.backward(dout, cache)
    for name, estimate in numeric.items():
        assert relative_error(analytic[name], estimate) < 1e-7, name


def test_fit_is_adam_with_clipping_step_for_step():
    rng = np.random.default_rng(4)
    model = RecurrentNetwork("lstm", 2, 4, 1, rng=rng)
    reference = RecurrentNetwork("lstm", 2, 4, 1, rng=np.random.default_rng(4))
    x, y = adding_problem(8, 6, rng=rng)
    history = model.fit(x, y, epochs=3, batch_size=8, rng=np.random.default_rng(0),
                        optimizer_kwargs={"lr": 0.05}, max_norm=0.1)
    state, norms = None, []
    for _ in range(3):  # one batch per epoch: the batch is the whole (shuffled) set, order irrelevant for a mean
        _, grads = reference.loss_and_grads(x, y)
        grads, norm = clip_grad_norm(grads, 0.1)
        norms.append(norm)
        reference.params, state = adam_step(reference.params, grads, state, lr=0.05)
    for name, value in reference.params.items():
        np.testing.assert_allclose(model.params[name], value, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(history["grad_norm"], norms, rtol=1e-12)
    assert len(history["loss"]) == len(history["seconds"]) == 3


def test_float32_model_keeps_its_dtype():
    model = RecurrentNetwork("gru", 2, 4, 1, rng=np.random.default_rng(5), dtype=np.float32)
    x, y = adding_problem(8, 6, rng=np.random.default_rng(6))
    out, cache = model.forward(x.astype(np.float32))
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in model.backward(np.ones_like(out), cache).values())


# --------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------

def test_unknown_cell_and_loss_are_rejected():
    with pytest.raises(ValueError, match=r"cell must be one of 'rnn', 'lstm', 'gru'; got 'transformer'"):
        RecurrentNetwork("transformer", 2, 4, 1, rng=np.random.default_rng(0))
    model = RecurrentNetwork("rnn", 2, 4, 1, rng=np.random.default_rng(0))
    x, y = adding_problem(4, 5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"loss must be one of 'mse', 'cross_entropy'; got 'hinge'"):
        model.loss_and_grads(x, y, loss="hinge")


def test_fit_rejects_batch_first_data_and_a_negative_clip():
    model = RecurrentNetwork("rnn", 2, 4, 1, rng=np.random.default_rng(0))
    x, y = adding_problem(4, 5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"x must have shape \(T, N, D\), sequences along axis 1; got \(4, 5\)"):
        model.fit(x[:, :, 0].T, y, epochs=1, batch_size=2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"max_norm must be in \[0.0, inf\]; got -1.0"):
        model.fit(x, y, epochs=1, batch_size=2, rng=np.random.default_rng(0), max_norm=-1.0)


def test_input_with_the_wrong_feature_size_is_rejected_by_the_recurrent_layer():
    model = RecurrentNetwork("lstm", 3, 4, 1, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"params\['W_ih'\] must have shape \(16, 2\)"):
        model.forward(np.ones((5, 2, 2)))


# --------------------------------------------------------------------------------------------------------
# The learning check of docs/long-range-memory.md (same data, seeds and settings as the page)
# --------------------------------------------------------------------------------------------------------

def test_the_long_range_memory_page_result_holds_with_its_fixed_seed():
    T, H, EPOCHS, BATCH = 30, 32, 5, 64
    x_train, y_train = (a.astype(np.float32) for a in adding_problem(2560, T, rng=np.random.default_rng(1)))
    x_test, y_test = (a.astype(np.float32) for a in adding_problem(500, T, rng=np.random.default_rng(100)))
    final = {}
    for cell in ("rnn", "lstm", "gru"):
        model = RecurrentNetwork(cell, 2, H, 1, rng=np.random.default_rng(1), dtype=np.float32)
        history = model.fit(x_train, y_train, epochs=EPOCHS, batch_size=BATCH, rng=np.random.default_rng(1),
                            optimizer_kwargs={"lr": 0.02}, max_norm=1.0, validation=(x_test, y_test))
        final[cell] = history["val_loss"][-1]
    assert final["lstm"] < 0.01 and final["gru"] < 0.01
    assert final["rnn"] > 0.15  # the no-memory level is 1/6
