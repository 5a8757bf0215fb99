"""dlref.rnn: PyTorch float64 as the oracle, finite differences, truncated BPTT, clipping, errors."""

import re
import warnings

import numpy as np
import pytest
import torch

from dlref import rnn
from dlref.gradcheck import numerical_gradients, relative_error
from dlref.optim import clip_grad_norm

# case -> (cell, nonlinearity of the vanilla RNN)
CASES = {"rnn-tanh": ("rnn", "tanh"), "rnn-relu": ("rnn", "relu"), "lstm": ("lstm", None), "gru": ("gru", None)}
TORCH_NAMES = {"W_ih": "weight_ih_l0", "W_hh": "weight_hh_l0", "b_ih": "bias_ih_l0", "b_hh": "bias_hh_l0"}
# (T, N, D, H): the size-1 edge cases, then sizes where every dimension differs
EDGE_SIZES = [(1, 1, 1, 1), (1, 3, 2, 4), (5, 1, 3, 2), (4, 2, 1, 3), (6, 3, 4, 1), (7, 4, 5, 6)]
TOL = {"rtol": 1e-8, "atol": 1e-10}


def _random_problem(rng, cell, T, N, D, H, scale=0.6):
    """Random parameters (biases too, not torch's small init), input, initial states and upstream gradients."""
    params = {name: scale * rng.normal(size=p.shape) for name, p in rnn.init_params(cell, D, H, rng=rng).items()}
    return {
        "params": params,
        "x": rng.normal(size=(T, N, D)),
        "h0": rng.normal(size=(N, H)),
        "c0": rng.normal(size=(N, H)),
        "dh": rng.normal(size=(T, N, H)),
        "dh_T": rng.normal(size=(N, H)),
        "dc_T": rng.normal(size=(N, H)),
    }


def _torch_module(case, D, H, params):
    cell, nonlinearity = CASES[case]
    if cell == "rnn":
        module = torch.nn.RNN(D, H, nonlinearity=nonlinearity, dtype=torch.float64)
    else:
        module = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(D, H, dtype=torch.float64)
    with torch.no_grad():
        for ours, theirs in TORCH_NAMES.items():
            getattr(module, theirs).copy_(torch.tensor(params[ours]))
    return module


def _ours(case, p, window=None, use_h0=True):
    """Forward and backward of dlref: outputs and gradients as dicts keyed like _theirs."""
    cell, nonlinearity = CASES[case]
    h0 = p["h0"] if use_h0 else None
    if cell == "lstm":
        c0 = p["c0"] if use_h0 else None
        h, (h_T, c_T), cache = rnn.lstm_forward(p["x"], h0, c0, p["params"])
        dx, dh0, dc0, grads = rnn.lstm_backward(p["dh"], cache, p["dh_T"], p["dc_T"], window=window)
        return {"h": h, "h_T": h_T, "c_T": c_T}, {"x": dx, "h0": dh0, "c0": dc0, **grads}
    if cell == "rnn":
        h, h_T, cache = rnn.rnn_forward(p["x"], h0, p["params"], nonlinearity)
        dx, dh0, grads = rnn.rnn_backward(p["dh"], cache, p["dh_T"], window=window)
    else:
        h, h_T, cache = rnn.gru_forward(p["x"], h0, p["params"])
        dx, dh0, grads = rnn.gru_backward(p["dh"], cache, p["dh_T"], window=window)
    return {"h": h, "h_T": h_T}, {"x": dx, "h0": dh0, **grads}


def _theirs(case, p, use_h0=True):
    """torch's outputs and gradients, with the loss <dh, output> + <dh_T, h_n> (+ <dc_T, c_n>)."""
    cell, _ = CASES[case]
    T, N, D = p["x"].shape
    H = p["h0"].shape[1]
    module = _torch_module(case, D, H, p["params"])
    x = torch.tensor(p["x"], requires_grad=True)
    h0 = torch.tensor(p["h0"][None], requires_grad=True)
    c0 = torch.tensor(p["c0"][None], requires_grad=True)
    if cell == "lstm":
        out, (h_n, c_n) = module(x, (h0, c0) if use_h0 else None)
        loss = (out * torch.tensor(p["dh"])).sum() + (h_n[0] * torch.tensor(p["dh_T"])).sum()
        loss = loss + (c_n[0] * torch.tensor(p["dc_T"])).sum()
        outputs = {"h": out, "h_T": h_n[0], "c_T": c_n[0]}
    else:
        out, h_n = module(x, h0 if use_h0 else None)
        loss = (out * torch.tensor(p["dh"])).sum() + (h_n[0] * torch.tensor(p["dh_T"])).sum()
        outputs = {"h": out, "h_T": h_n[0]}
    loss.backward()
    grads = {"x": x.grad.numpy()}
    if use_h0:
        grads["h0"] = h0.grad[0].numpy()
        if cell == "lstm":
            grads["c0"] = c0.grad[0].numpy()
    grads.update({ours: getattr(module, theirs).grad.numpy() for ours, theirs in TORCH_NAMES.items()})
    return {name: value.detach().numpy() for name, value in outputs.items()}, grads


def _assert_matches_torch(case, p, use_h0=True):
    outputs, grads = _ours(case, p, use_h0=use_h0)
    torch_outputs, torch_grads = _theirs(case, p, use_h0=use_h0)
    assert outputs.keys() == torch_outputs.keys()
    for name, value in torch_outputs.items():
        np.testing.assert_allclose(outputs[name], value, **TOL, err_msg=name)
    for name, value in torch_grads.items():
        assert grads[name].shape == value.shape, name
        np.testing.assert_allclose(grads[name], value, **TOL, err_msg=name)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("seed", range(4))
def test_matches_torch_on_random_sizes(case, seed):
    rng = np.random.default_rng(seed)
    T, N, D, H = (int(n) for n in rng.integers(1, 8, size=4))
    _assert_matches_torch(case, _random_problem(rng, CASES[case][0], T, N, D, H))


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("sizes", EDGE_SIZES)
def test_matches_torch_on_edge_sizes(case, sizes):
    rng = np.random.default_rng(sum(sizes))
    _assert_matches_torch(case, _random_problem(rng, CASES[case][0], *sizes))


@pytest.mark.parametrize("case", CASES)
def test_initial_state_none_is_zeros_as_in_torch(case):
    rng = np.random.default_rng(7)
    _assert_matches_torch(case, _random_problem(rng, CASES[case][0], 4, 3, 2, 5), use_h0=False)


@pytest.mark.parametrize("case", CASES)
def test_long_sequence_with_large_weights_matches_torch(case):
    # Saturated gates and (for ReLU) large states: the regime where a wrong derivative shows most.
    rng = np.random.default_rng(8)
    p = _random_problem(rng, CASES[case][0], 40, 2, 3, 4, scale=1.5 if case != "rnn-relu" else 0.4)
    _assert_matches_torch(case, p)


@pytest.mark.parametrize("case", CASES)
def test_extreme_inputs_give_finite_values_equal_to_torch_without_warnings(case):
    # |x| up to 1e4 drives every gate into saturation, where exp(-a) overflows for the sigmoid's far tail.
    rng = np.random.default_rng(9)
    p = _random_problem(rng, CASES[case][0], 6, 3, 2, 4)
    p["x"] = p["x"] * 1e4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outputs, grads = _ours(case, p)
    assert all(np.all(np.isfinite(v)) for v in (*outputs.values(), *grads.values()))
    _assert_matches_torch(case, p)


def _finite_difference_problem(case, p, window=None):
    """Inputs, upstream gradients and a function of all inputs for dlref.gradcheck."""
    cell, nonlinearity = CASES[case]
    inputs = {"x": p["x"], "h0": p["h0"], **p["params"]}
    if cell == "lstm":
        inputs["c0"] = p["c0"]

    def outputs(arrays):
        params = {name: arrays[name] for name in TORCH_NAMES}
        if cell == "lstm":
            h, (h_T, c_T), _ = rnn.lstm_forward(arrays["x"], arrays["h0"], arrays["c0"], params)
            return h, h_T, c_T
        if cell == "rnn":
            h, h_T, _ = rnn.rnn_forward(arrays["x"], arrays["h0"], params, nonlinearity)
        else:
            h, h_T, _ = rnn.gru_forward(arrays["x"], arrays["h0"], params)
        return h, h_T

    dy = (p["dh"], p["dh_T"], p["dc_T"]) if cell == "lstm" else (p["dh"], p["dh_T"])
    return inputs, dy, outputs


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("sizes", [(1, 1, 1, 1), (5, 2, 3, 4)])
def test_backward_matches_finite_differences_for_every_input(case, sizes):
    rng = np.random.default_rng(11)
    p = _random_problem(rng, CASES[case][0], *sizes)
    if case == "rnn-relu":  # keep pre-activations away from the kink at 0, where ReLU has no derivative
        p["params"]["b_ih"] += 2.0
    inputs, dy, outputs = _finite_difference_problem(case, p)
    numeric = numerical_gradients(outputs, inputs, dy)
    _, analytic = _ours(case, p)
    for name, estimate in numeric.items():
        assert relative_error(analytic[name], estimate) < 1e-7, name


def test_gradcheck_catches_an_lstm_backward_that_drops_the_final_cell_gradient():
    rng = np.random.default_rng(12)
    p = _random_problem(rng, "lstm", 3, 2, 2, 3)
    inputs, dy, outputs = _finite_difference_problem("lstm", p)
    numeric = numerical_gradients(outputs, inputs, dy)
    _, _, cache = rnn.lstm_forward(p["x"], p["h0"], p["c0"], p["params"])
    dx_without_dc_T = rnn.lstm_backward(p["dh"], cache, p["dh_T"])[0]
    assert relative_error(dx_without_dc_T, numeric["x"]) > 1e-3


# --------------------------------------------------------------------------------------------------------
# Truncated BPTT
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("window", [7, 8, 100])
def test_truncated_bptt_equals_full_bptt_when_the_window_covers_the_sequence(case, window):
    rng = np.random.default_rng(13)
    p = _random_problem(rng, CASES[case][0], 7, 3, 2, 4)
    _, full = _ours(case, p)
    _, truncated = _ours(case, p, window=window)
    for name, value in full.items():
        np.testing.assert_array_equal(truncated[name], value, err_msg=name)


def _torch_chunked(case, p, window):
    """torch's truncated BPTT: chunks of `window` steps, state carried over detached, gradients summed."""
    cell, _ = CASES[case]
    T, N, D = p["x"].shape
    module = _torch_module(case, D, p["h0"].shape[1], p["params"])
    x = torch.tensor(p["x"], requires_grad=True)
    h = torch.tensor(p["h0"][None], requires_grad=True)
    c = torch.tensor(p["c0"][None], requires_grad=True)
    h0, c0 = h, c
    for start in range(0, T, window):
        chunk = x[start:start + window]
        dh = torch.tensor(p["dh"][start:start + window])
        last = start + window >= T
        if cell == "lstm":
            out, (h, c) = module(chunk, (h, c))
            loss = (out * dh).sum()
            if last:
                loss = loss + (h[0] * torch.tensor(p["dh_T"])).sum() + (c[0] * torch.tensor(p["dc_T"])).sum()
            h, c = h.detach(), c.detach()
        else:
            out, h = module(chunk, h)
            loss = (out * dh).sum() + ((h[0] * torch.tensor(p["dh_T"])).sum() if last else 0.0)
            h = h.detach()
        loss.backward()  # accumulates into the parameters' .grad across chunks
    grads = {"x": x.grad.numpy(), "h0": h0.grad[0].numpy()}
    if cell == "lstm":
        grads["c0"] = c0.grad[0].numpy()
    grads.update({ours: getattr(module, theirs).grad.numpy() for ours, theirs in TORCH_NAMES.items()})
    return grads


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("window", [1, 2, 3, 5])
def test_truncated_bptt_matches_torch_with_detached_chunks(case, window):
    rng = np.random.default_rng(14)
    p = _random_problem(rng, CASES[case][0], 11, 2, 3, 4)
    _, ours = _ours(case, p, window=window)
    theirs = _torch_chunked(case, p, window)
    for name, value in theirs.items():
        np.testing.assert_allclose(ours[name], value, **TOL, err_msg=name)
    _, full = _ours(case, p)
    assert relative_error(ours["W_hh"], full["W_hh"]) > 1e-6  # the truncation did change something


def test_truncated_bptt_leaves_no_gradient_beyond_the_window_from_a_loss_on_the_last_state():
    rng = np.random.default_rng(15)
    p = _random_problem(rng, "rnn", 10, 2, 3, 4)
    _, _, cache = rnn.rnn_forward(p["x"], p["h0"], p["params"])
    dx, dh0, _ = rnn.rnn_backward(None, cache, p["dh_T"], window=4)  # windows [0, 4) [4, 8) [8, 10)
    assert np.all(dx[:8] == 0) and np.all(dh0 == 0)
    assert np.all(np.abs(dx[8:]).sum(axis=(1, 2)) > 0)


# --------------------------------------------------------------------------------------------------------
# Gradient clipping of recurrent gradients
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("max_norm", [0.5, 5.0, 1e6])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, float("inf")])
@pytest.mark.parametrize("case", ["lstm", "gru", "rnn-tanh"])
def test_clipping_the_recurrent_gradients_equals_torch_clip_grad_norm(case, norm_type, max_norm):
    rng = np.random.default_rng(16)
    p = _random_problem(rng, CASES[case][0], 30, 3, 2, 5, scale=1.2)
    _, grads = _ours(case, p)
    params_grads = {name: grads[name] for name in TORCH_NAMES}
    clipped, total_norm = clip_grad_norm(params_grads, max_norm, norm_type=norm_type)

    T, N, D = p["x"].shape
    module = _torch_module(case, D, 5, p["params"])
    x = torch.tensor(p["x"])
    h0 = torch.tensor(p["h0"][None])
    if CASES[case][0] == "lstm":
        out, (h_n, c_n) = module(x, (h0, torch.tensor(p["c0"][None])))
        loss = (out * torch.tensor(p["dh"])).sum() + (h_n[0] * torch.tensor(p["dh_T"])).sum()
        loss = loss + (c_n[0] * torch.tensor(p["dc_T"])).sum()
    else:
        out, h_n = module(x, h0)
        loss = (out * torch.tensor(p["dh"])).sum() + (h_n[0] * torch.tensor(p["dh_T"])).sum()
    loss.backward()
    torch_norm = torch.nn.utils.clip_grad_norm_(module.parameters(), max_norm, norm_type=norm_type)

    np.testing.assert_allclose(total_norm, torch_norm.item(), rtol=1e-10)
    for ours, theirs in TORCH_NAMES.items():
        np.testing.assert_allclose(clipped[ours], getattr(module, theirs).grad.numpy(), **TOL)


# --------------------------------------------------------------------------------------------------------
# Variable lengths, dtypes, parameters
# --------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_padded_batch_read_at_each_length_equals_torch_packed_sequence(cell):
    rng = np.random.default_rng(17)
    T, N, D, H = 6, 4, 3, 5
    lengths = np.array([6, 2, 4, 1])
    x = rng.normal(size=(T, N, D))
    x[np.arange(T)[:, None] >= lengths] = 0.0  # padding
    params = rnn.init_params(cell, D, H, rng=rng)
    if cell == "lstm":
        h, _, _ = rnn.lstm_forward(x, None, None, params)
    else:
        h, _, _ = getattr(rnn, f"{cell}_forward")(x, None, params)
    last_states = h[lengths - 1, np.arange(N)]

    module = _torch_module({"rnn": "rnn-tanh", "lstm": "lstm", "gru": "gru"}[cell], D, H, params)
    packed = torch.nn.utils.rnn.pack_padded_sequence(torch.tensor(x), torch.tensor(lengths), enforce_sorted=False)
    _, h_n = module(packed)
    h_n = h_n[0] if cell == "lstm" else h_n
    np.testing.assert_allclose(last_states, h_n[0].detach().numpy(), **TOL)


@pytest.mark.parametrize("case", CASES)
def test_float32_keeps_its_dtype_and_agrees_with_float64(case):
    rng = np.random.default_rng(18)
    p = _random_problem(rng, CASES[case][0], 5, 2, 3, 4)
    p32 = {name: (value.astype(np.float32) if name != "params" else
                  {k: v.astype(np.float32) for k, v in value.items()}) for name, value in p.items()}
    outputs32, grads32 = _ours(case, p32)
    outputs64, grads64 = _ours(case, p)
    for name, value in {**outputs32, **grads32}.items():
        assert value.dtype == np.float32, name
    for name, value in outputs64.items():
        np.testing.assert_allclose(outputs32[name], value, rtol=1e-4, atol=1e-5)
    for name, value in grads64.items():
        assert relative_error(grads32[name], value) < 1e-5, name


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_init_params_has_torch_shapes_count_and_range(cell):
    D, H = 3, 16
    params = rnn.init_params(cell, D, H, rng=np.random.default_rng(19))
    module = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, H)
    for ours, theirs in TORCH_NAMES.items():
        assert params[ours].shape == tuple(getattr(module, theirs).shape)
    assert sum(p.size for p in params.values()) == sum(p.numel() for p in module.parameters())
    k = 1 / np.sqrt(H)
    values = np.concatenate([p.ravel() for p in params.values()])
    assert values.min() >= -k and values.max() < k and values.std() > 0.5 * k  # U(-k, k) has std k / sqrt(3)


def test_init_params_float32():
    params = rnn.init_params("gru", 2, 3, rng=np.random.default_rng(0), dtype=np.float32)
    assert all(p.dtype == np.float32 for p in params.values())


@pytest.mark.parametrize("case", CASES)
def test_mixed_dtypes_follow_numpy_promotion(case):
    # float32 data with float64 parameters computes in float64, exactly as with the data upcast first.
    rng = np.random.default_rng(20)
    p = _random_problem(rng, CASES[case][0], 5, 2, 3, 4)
    p_mixed = {**p, **{name: p[name].astype(np.float32) for name in ("x", "h0", "c0", "dh", "dh_T", "dc_T")}}
    p_upcast = {**p, **{name: p_mixed[name].astype(np.float64) for name in ("x", "h0", "c0", "dh", "dh_T", "dc_T")}}
    outputs, grads = _ours(case, p_mixed)
    expected_outputs, expected_grads = _ours(case, p_upcast)
    for name, value in {**expected_outputs, **expected_grads}.items():
        mine = {**outputs, **grads}[name]
        assert mine.dtype == np.float64, name
        np.testing.assert_allclose(mine, value, rtol=1e-12, atol=1e-14, err_msg=name)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("sizes", [(4, 1, 2, 3), (5, 3, 2, 4)])
def test_forward_and_backward_change_neither_their_inputs_nor_the_cache(case, sizes):
    # The loops update their running states in place; with N = 1 a transposed (N, H) state is already
    # contiguous, so an implementation that skips the copy would write into the caller's arrays.
    rng = np.random.default_rng(21)
    p = _random_problem(rng, CASES[case][0], *sizes)
    before = {name: ({k: v.copy() for k, v in value.items()} if name == "params" else value.copy())
              for name, value in p.items()}
    cell, nonlinearity = CASES[case]
    if cell == "lstm":
        _, _, cache = rnn.lstm_forward(p["x"], p["h0"], p["c0"], p["params"])
        first = rnn.lstm_backward(p["dh"], cache, p["dh_T"], p["dc_T"])
        second = rnn.lstm_backward(p["dh"], cache, p["dh_T"], p["dc_T"])
    elif cell == "gru":
        _, _, cache = rnn.gru_forward(p["x"], p["h0"], p["params"])
        first, second = (rnn.gru_backward(p["dh"], cache, p["dh_T"]) for _ in range(2))
    else:
        _, _, cache = rnn.rnn_forward(p["x"], p["h0"], p["params"], nonlinearity)
        first, second = (rnn.rnn_backward(p["dh"], cache, p["dh_T"]) for _ in range(2))
    for name, value in before.items():
        if name == "params":
            for k, v in value.items():
                np.testing.assert_array_equal(p["params"][k], v, err_msg=k)
        else:
            np.testing.assert_array_equal(p[name], value, err_msg=name)
    for a, b in zip(first[:-1], second[:-1]):  # a second backward pass from the same cache agrees exactly
        np.testing.assert_array_equal(a, b)
    for name in first[-1]:
        np.testing.assert_array_equal(first[-1][name], second[-1][name], err_msg=name)


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def test_lstm_cache_holds_the_gates_and_cells_of_the_equations():
    # The loop stacks the gate blocks in its own order; the cache must still name each one correctly.
    rng = np.random.default_rng(22)
    p = _random_problem(rng, "lstm", 3, 2, 3, 4)
    h, (h_T, c_T), cache = rnn.lstm_forward(p["x"], p["h0"], p["c0"], p["params"])
    W_ih, W_hh, b = p["params"]["W_ih"], p["params"]["W_hh"], p["params"]["b_ih"] + p["params"]["b_hh"]
    h_prev, c_prev = p["h0"], p["c0"]
    for t in range(3):
        a = p["x"][t] @ W_ih.T + h_prev @ W_hh.T + b
        i, f, g, o = _sigmoid(a[:, :4]), _sigmoid(a[:, 4:8]), np.tanh(a[:, 8:12]), _sigmoid(a[:, 12:])
        c_prev = f * c_prev + i * g
        h_prev = o * np.tanh(c_prev)
        for name, value in {"i": i, "f": f, "g": g, "o": o, "c": c_prev, "tanh_c": np.tanh(c_prev),
                            "h": h_prev}.items():
            assert getattr(cache, name).shape == h.shape, name
            np.testing.assert_allclose(getattr(cache, name)[t], value, rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(c_T, c_prev, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(h_T, h[-1])


def test_gru_cache_holds_the_gates_and_candidate_of_the_equations():
    rng = np.random.default_rng(23)
    p = _random_problem(rng, "gru", 3, 2, 3, 4)
    h, h_T, cache = rnn.gru_forward(p["x"], p["h0"], p["params"])
    W_ih, W_hh, b_ih, b_hh = (p["params"][name] for name in TORCH_NAMES)
    h_prev = p["h0"]
    for t in range(3):
        a_ih, a_hh = p["x"][t] @ W_ih.T + b_ih, h_prev @ W_hh.T + b_hh
        r, z = _sigmoid(a_ih[:, :4] + a_hh[:, :4]), _sigmoid(a_ih[:, 4:8] + a_hh[:, 4:8])
        n = np.tanh(a_ih[:, 8:] + r * a_hh[:, 8:])
        h_prev = (1 - z) * n + z * h_prev
        for name, value in {"r": r, "z": z, "n": n, "hn": a_hh[:, 8:], "h": h_prev}.items():
            assert getattr(cache, name).shape == h.shape, name
            np.testing.assert_allclose(getattr(cache, name)[t], value, rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_array_equal(h_T, h[-1])


# --------------------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------------------

def _lstm_params(D=3, H=4):
    return rnn.init_params("lstm", D, H, rng=np.random.default_rng(0))


@pytest.mark.parametrize("shape", [(5, 3), (2, 5, 2, 3), (0, 2, 3)])
def test_x_that_is_not_a_nonempty_3d_sequence_is_rejected(shape):
    with pytest.raises(ValueError, match=r"x must be a non-empty 3-D array of shape \(T, N, D\).*got shape "
                                         + re.escape(str(shape)) + r".*x\[:, None, :\]"):
        rnn.lstm_forward(np.ones(shape), None, None, _lstm_params())


def test_x_with_the_wrong_feature_size_is_rejected():
    with pytest.raises(ValueError, match=r"params\['W_ih'\] must have shape \(16, 2\) for a lstm layer with "
                                         r"input size D = 2 \(from x\) and hidden size H = 4 \(from W_hh\); "
                                         r"got \(16, 3\)"):
        rnn.lstm_forward(np.ones((5, 1, 2)), None, None, _lstm_params())


def test_params_of_another_cell_are_rejected():
    with pytest.raises(ValueError, match=r"params\['W_hh'\] of a gru layer must have shape \(3 \* H, H\), 3 "
                                         r"block\(s\) of H rows in torch's gate order r, z, n; got \(16, 4\)"):
        rnn.gru_forward(np.ones((5, 1, 3)), None, _lstm_params())


def test_params_with_torch_names_are_rejected_with_the_mapping():
    params = {"weight_ih_l0": np.ones((4, 3)), "weight_hh_l0": np.ones((4, 4)), "W_ih": np.ones((4, 3))}
    with pytest.raises(ValueError, match=r"missing \['W_hh', 'b_ih', 'b_hh'\], unexpected \['weight_ih_l0', "
                                         r"'weight_hh_l0'\]\. From a torch module, copy weight_ih_l0 as W_ih"):
        rnn.rnn_forward(np.ones((5, 1, 3)), None, params)


def test_params_that_are_not_a_dict_are_a_type_error():
    with pytest.raises(TypeError, match=r"params must be a dict with keys \['W_ih', 'W_hh', 'b_ih', 'b_hh'\]; "
                                        r"got list"):
        rnn.rnn_forward(np.ones((5, 1, 3)), None, [np.ones((4, 3))])


def test_bias_of_the_wrong_shape_is_rejected():
    params = _lstm_params()
    params["b_hh"] = np.ones(4)
    with pytest.raises(ValueError, match=r"params\['b_hh'\] must have shape \(16,\).*got \(4,\)"):
        rnn.lstm_forward(np.ones((5, 1, 3)), None, None, params)


@pytest.mark.parametrize("shape", [(1, 2, 4), (2, 5), (4,)])
def test_initial_state_of_the_wrong_shape_is_rejected_with_torch_hint(shape):
    with pytest.raises(ValueError, match=r"c0 must have shape \(N, H\) = \(2, 4\).*got "
                                         + re.escape(str(shape)) + r".*pass c0\[0\]"):
        rnn.lstm_forward(np.ones((5, 2, 3)), None, np.ones(shape), _lstm_params())


def test_unknown_nonlinearity_is_rejected():
    with pytest.raises(ValueError, match=r"nonlinearity must be one of 'tanh', 'relu'; got 'sigmoid'"):
        rnn.rnn_forward(np.ones((2, 1, 3)), None, rnn.init_params("rnn", 3, 2, rng=np.random.default_rng(0)),
                        nonlinearity="sigmoid")


@pytest.mark.parametrize("name", ["x", "h0", "W_hh"])
def test_nan_and_inf_are_rejected(name):
    arrays = {"x": np.ones((2, 1, 3)), "h0": np.ones((1, 4)), **_lstm_params()}
    arrays[name].flat[0] = np.inf
    label = name if name in ("x", "h0") else f"params['{name}']"
    with pytest.raises(ValueError, match=re.escape(label) + r" must not contain NaN or infinite values"):
        rnn.lstm_forward(arrays.pop("x"), arrays.pop("h0"), None, arrays)


def test_upstream_gradient_of_the_wrong_shape_is_rejected():
    h, _, cache = rnn.gru_forward(np.ones((5, 2, 3)), None, rnn.init_params("gru", 3, 4, rng=np.random.default_rng(0)))
    with pytest.raises(ValueError, match=r"dh must have the shape of every hidden state h, \(T, N, H\) = "
                                         r"\(5, 2, 4\); got \(2, 4\)"):
        rnn.gru_backward(np.ones((2, 4)), cache)
    with pytest.raises(ValueError, match=r"dh_T must have the shape of the final state, \(N, H\) = \(2, 4\); got "
                                         r"\(1, 2, 4\)"):
        rnn.gru_backward(None, cache, dh_T=np.ones((1, 2, 4)))


@pytest.mark.parametrize("window, error", [(0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_bad_window_is_rejected(window, error):
    h, _, cache = rnn.rnn_forward(np.ones((5, 2, 3)), None, rnn.init_params("rnn", 3, 4, rng=np.random.default_rng(0)))
    with pytest.raises(error, match=r"window must be an int"):
        rnn.rnn_backward(None, cache, window=window)


def test_unknown_cell_for_init_params_is_rejected():
    with pytest.raises(ValueError, match=r"cell must be one of 'rnn', 'lstm', 'gru'; got 'transformer'"):
        rnn.init_params("transformer", 2, 3, rng=np.random.default_rng(0))
