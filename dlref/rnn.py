r"""Recurrent layers: the vanilla (Elman) RNN, the LSTM and the GRU, forward and backward over a sequence.

Each layer is a pair of pure functions with the layout of `torch.nn.RNN`, `torch.nn.LSTM` and
`torch.nn.GRU` (one layer, one direction, `batch_first=False`):

- sequences are `(T, N, D)`: time first, then the batch, then the features;
- states are `(N, H)` (torch's `h_0`, `h_n` and `c_n` add a leading `num_layers` axis: pass `h_0[0]`);
- parameters are a dict with torch's names and shapes, `W_ih` `(G H, D)`, `W_hh` `(G H, H)`, `b_ih` and
  `b_hh` `(G H,)`, where $G$ is the number of gate blocks stacked in torch's order: $G = 1$ for the RNN,
  $4$ for the LSTM (i, f, g, o) and $3$ for the GRU (r, z, n). A torch module's `weight_ih_l0`,
  `weight_hh_l0`, `bias_ih_l0` and `bias_hh_l0` copy straight in (zeros for a module built with
  `bias=False`).

The forward pass returns every hidden state `h` `(T, N, H)`, the final state(s) and a frozen cache; the
backward pass takes the gradient of the loss with respect to `h` and, separately, with respect to the
final state(s) (a loss may use both, as `output` and `h_n` in torch), and returns the gradients of the
input, of the initial state(s) and of every parameter. The keyword `window` of each backward pass gives
truncated backpropagation through time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dlref._checks import as_float_array, check_choice, check_int, check_rng
from dlref.init import uniform

__all__ = [
    "GATES", "init_params",
    "RNNCache", "rnn_forward", "rnn_backward",
    "LSTMCache", "lstm_forward", "lstm_backward",
    "GRUCache", "gru_forward", "gru_backward",
]

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
"""Number of stacked gate blocks $G$ per cell: `W_ih` has $G H$ rows."""

_PARAM_NAMES = ("W_ih", "W_hh", "b_ih", "b_hh")
_GATE_ORDER = {"rnn": "", "lstm": " in torch's gate order i, f, g, o", "gru": " in torch's gate order r, z, n"}
_NONLINEARITIES = ("tanh", "relu")


# --------------------------------------------------------------------------------------------------------
# Parameters and validation
# --------------------------------------------------------------------------------------------------------

def init_params(cell, input_size, hidden_size, *, rng, dtype=np.float64):
    r"""Parameters of a recurrent layer, drawn as torch draws them: each entry from $\mathcal{U}(-k, k)$.

    Parameters
    ----------
    cell : {"rnn", "lstm", "gru"}
        The layer.
    input_size : int
        $D$, features per time step.
    hidden_size : int
        $H$, the size of the hidden state.
    rng : numpy.random.Generator
        The source of randomness.
    dtype : {numpy.float64, numpy.float32}, default numpy.float64

    Returns
    -------
    dict of str to numpy.ndarray
        `W_ih` `(G H, D)`, `W_hh` `(G H, H)`, `b_ih` and `b_hh` `(G H,)` with $G$ = `GATES[cell]`.

    Notes
    -----
    $k = 1/\sqrt{H}$ for every weight and bias: the default of `torch.nn.RNN`, `LSTM` and `GRU` (their
    `reset_parameters`). The numbers differ from torch's (another random stream); the distribution is the
    same. The layer has $G(HD + H^2 + 2H)$ parameters: torch keeps two bias vectors where the papers have
    one.

    Examples
    --------
    >>> params = init_params("lstm", 3, 5, rng=np.random.default_rng(0))
    >>> print({name: p.shape for name, p in params.items()})
    {'W_ih': (20, 3), 'W_hh': (20, 5), 'b_ih': (20,), 'b_hh': (20,)}
    """
    cell = check_choice(cell, "cell", tuple(GATES))
    input_size = check_int(input_size, "input_size", low=1)
    hidden_size = check_int(hidden_size, "hidden_size", low=1)
    rng = check_rng(rng)
    rows, k = GATES[cell] * hidden_size, 1.0 / math.sqrt(hidden_size)
    shapes = {"W_ih": (rows, input_size), "W_hh": (rows, hidden_size), "b_ih": (rows,), "b_hh": (rows,)}
    return {name: uniform(shape, rng=rng, a=-k, b=k, dtype=dtype) for name, shape in shapes.items()}


def _check_params(params, cell: str, input_size: int) -> tuple[dict, int]:
    """Validate a parameter dict for `cell`; return it as float arrays and the hidden size H."""
    if not isinstance(params, Mapping):
        raise TypeError(f"params must be a dict with keys {list(_PARAM_NAMES)}; got {type(params).__name__}. "
                        f"Build one with init_params({cell!r}, input_size, hidden_size, rng=rng).")
    missing = [name for name in _PARAM_NAMES if name not in params]
    unexpected = [name for name in params if name not in _PARAM_NAMES]
    if missing or unexpected:
        raise ValueError(f"params must have exactly the keys {list(_PARAM_NAMES)}; missing {missing}, "
                         f"unexpected {unexpected}. From a torch module, copy weight_ih_l0 as W_ih, "
                         f"weight_hh_l0 as W_hh, bias_ih_l0 as b_ih and bias_hh_l0 as b_hh (zeros if it "
                         f"has no bias).")
    params = {name: as_float_array(params[name], f"params[{name!r}]", allow_inf=False) for name in _PARAM_NAMES}
    gates, W_hh = GATES[cell], params["W_hh"]
    if W_hh.ndim != 2 or W_hh.shape[0] != gates * W_hh.shape[1]:
        raise ValueError(f"params['W_hh'] of a {cell} layer must have shape ({gates} * H, H), {gates} "
                         f"block(s) of H rows{_GATE_ORDER[cell]}; got {W_hh.shape}. Check that the "
                         f"parameters belong to a {cell} layer.")
    hidden = W_hh.shape[1]
    expected = {"W_ih": (gates * hidden, input_size), "b_ih": (gates * hidden,), "b_hh": (gates * hidden,)}
    for name, shape in expected.items():
        if params[name].shape != shape:
            raise ValueError(f"params[{name!r}] must have shape {shape} for a {cell} layer with input size "
                             f"D = {input_size} (from x) and hidden size H = {hidden} (from W_hh); got "
                             f"{params[name].shape}.")
    return params, hidden


def _check_sequence(x) -> np.ndarray:
    x = as_float_array(x, "x", allow_inf=False)
    if x.ndim != 3 or 0 in x.shape:
        raise ValueError(f"x must be a non-empty 3-D array of shape (T, N, D): time steps, batch, features "
                         f"(torch's layout with batch_first=False); got shape {x.shape}. For a single "
                         f"sequence of shape (T, D) pass x[:, None, :]; for batch-first data (N, T, D) pass "
                         f"x.transpose(1, 0, 2).")
    return x


def _check_state(state, name: str, batch: int, hidden: int, dtype) -> np.ndarray:
    if state is None:
        return np.zeros((batch, hidden), dtype=dtype)
    state = as_float_array(state, name, allow_inf=False)
    if state.shape != (batch, hidden):
        raise ValueError(f"{name} must have shape (N, H) = ({batch}, {hidden}), one state per sequence of the "
                         f"batch; got {state.shape}. torch's initial states have shape (num_layers, N, H): "
                         f"pass {name}[0]; or pass None for zeros.")
    return state


def _forward_inputs(x, states: dict, params, cell: str):
    x = _check_sequence(x)
    params, hidden = _check_params(params, cell, x.shape[2])
    dtype = np.result_type(x, *params.values())
    states = [_check_state(s, name, x.shape[1], hidden, dtype) for name, s in states.items()]
    return x, states, params, hidden, dtype


def _check_window(window, T: int) -> int:
    """The truncation window in steps; `None` means full backpropagation (a window of T steps)."""
    return T if window is None else check_int(window, "window", low=1)


def _upstream(grad, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """An upstream gradient of the given shape, or zeros for `None` (no loss term on that output)."""
    if grad is None:
        return np.zeros(shape, dtype=dtype)
    grad = as_float_array(grad, name, allow_inf=False)
    if grad.shape != shape:
        what = "every hidden state h, (T, N, H)" if name == "dh" else "the final state, (N, H)"
        raise ValueError(f"{name} must have the shape of {what} = {shape}; got {grad.shape}. Pass the "
                         f"gradient of the loss with respect to that output, or None if the loss does not "
                         f"use it.")
    return grad


# The LSTM's and the GRU's time loops work on transposed states, one (H, N) array per step. A step's
# pre-activations are then a (G H, N) matrix product whose gate blocks are contiguous (H, N) arrays; numpy's
# elementwise loops run about twice as fast on those as on the (N, H) column blocks of an (N, G H) row.
# Their arrays of a whole sequence are (T, H, N) inside (contiguous per step), and the caches hold the
# (T, N, H) views of them.

def _swap(a: np.ndarray) -> np.ndarray:
    """The (T, N, H) view of a (T, H, N) array, or the reverse (the last two axes swapped, no copy)."""
    return a.transpose(0, 2, 1)


def _upstream_steps(dh, h: np.ndarray) -> np.ndarray:
    """The upstream gradient `dh` of every state, validated, as a contiguous (T, H, N) array of h's dtype
    for the time loops; zeros for `None`."""
    T, N, H = h.shape
    if dh is None:
        return np.zeros((T, H, N), dtype=h.dtype)
    return np.ascontiguousarray(_swap(_upstream(dh, "dh", h.shape, h.dtype)), dtype=h.dtype)


def _state_columns(state: np.ndarray, dtype) -> np.ndarray:
    """An (N, H) state as a contiguous (H, N) array of the given dtype, always a copy: the loops update it
    in place, and for N = 1 the transposed view of the caller's array would already be contiguous."""
    return np.array(state.T, dtype=dtype, order="C")


def _stacked_inputs(x: np.ndarray, h0: np.ndarray, dtype, columns: bool) -> np.ndarray:
    """[h_{t-1}, x_t, 1] for every step t, the operand of the step's single matrix product: shape
    (T + 1, H + D + 1, N) with each step's stack in columns (`columns`, for the gate loops) or
    (T + 1, N, H + D + 1) in rows. h0 fills step 0; the loop writes h_t into the first H entries of step
    t + 1, so the states end up in `[1:]`."""
    T, N, D = x.shape
    H = h0.shape[1]
    stacked = np.empty((T + 1, H + D + 1, N) if columns else (T + 1, N, H + D + 1), dtype=dtype)
    rows = _swap(stacked) if columns else stacked  # (T + 1, N, H + D + 1) either way
    rows[0, :, :H] = h0
    rows[:T, :, H:H + D] = x
    rows[:T, :, H + D] = 1.0
    return stacked


def _blocks(array: np.ndarray, H: int, order: tuple[int, ...], negated: tuple[int, ...] = (),
            dtype=None) -> np.ndarray:
    """The H-row gate blocks of `array` restacked as a new contiguous array: `order` lists the indices of
    `array`'s blocks to take in turn, and the blocks whose indices are in `negated` change sign (exactly)."""
    out = np.empty((len(order) * H,) + array.shape[1:], dtype=dtype or array.dtype)
    for k, block in enumerate(order):
        rows = array[block * H:(block + 1) * H]
        if block in negated:
            np.negative(rows, out=out[k * H:(k + 1) * H])
        else:
            out[k * H:(k + 1) * H] = rows
    return out


def _sigmoid_of_negated(a: np.ndarray) -> None:
    r"""Overwrite `a`, which holds $-z$, with $\sigma(z) = 1/(1 + e^{-z})$, torch's formula, without
    temporaries.

    The same function as [`dlref.activations.sigmoid`][dlref.activations.sigmoid]; that one builds several
    temporaries to avoid overflow, which the recurrent loops, called once per step, cannot afford. The
    loops negate the sigmoid gates' rows of the weights once, before the first step (negation is exact),
    so that the matrix products deliver $-z$ and no step spends a pass on negating it. $e^{-z}$
    overflows to inf only for $z < -709$ (float64), where $1/(1 + \infty) = 0$ is the right value; the
    callers silence that warning with `np.errstate(over="ignore")`.
    """
    np.exp(a, out=a)
    a += 1.0
    np.reciprocal(a, out=a)


def _input_projection(x: np.ndarray, W_ih: np.ndarray, b: np.ndarray, dtype) -> np.ndarray:
    r"""$W_{ih} x_t + b$ for every step at once, shape `(rows, T, N)`, as one matrix product."""
    T, N, D = x.shape
    return (W_ih.astype(dtype, copy=False) @ x.reshape(T * N, D).T + b[:, None]).reshape(-1, T, N)


def _time_major(per_step: np.ndarray) -> np.ndarray:
    """Pre-activation gradients stored per step, `(T, G H, N)` as the time loops need them, as the
    `(G H, T N)` matrix of the parameter gradients' products (a column per step and sequence): one copy."""
    T, rows, N = per_step.shape
    matrix = np.empty((rows, T, N), dtype=per_step.dtype)
    np.copyto(matrix, per_step.transpose(1, 0, 2))
    return matrix.reshape(rows, T * N)


def _parameter_grads(da_ih, da_hh, x, h0, h, W_ih):
    r"""dx, dW_ih and dW_hh from the pre-activation gradients of both matrix products.

    `da_ih` is the gradient of $W_{ih} x_t + b_{ih}$ and `da_hh` that of $W_{hh} h_{t-1} + b_{hh}$, both
    `(G H, T N)` matrices (a column per step and sequence) whose gate blocks are stacked as in `W_ih`; the
    gradients come back in that order. They are equal except in the GRU's candidate block. Every sum over
    steps is one matrix product over the `T N` columns; step 0 pairs with $h_{-1}$ = `h0`, step $t$ with
    `h[t - 1]`. The bias gradients are the row sums of `da_ih` and `da_hh`.
    """
    T, N, D = x.shape
    H = h.shape[2]
    # dx^T = W_ih^T da_ih with both operands C-ordered, then one transposing copy: in float64, OpenBLAS
    # multiplies in this layout about 1.5 times as fast as da_ih^T W_ih.
    dx = np.ascontiguousarray((np.ascontiguousarray(W_ih.T) @ da_ih).T).reshape(T, N, D)
    dW_ih = da_ih @ x.reshape(T * N, D)
    dW_hh = da_hh[:, :N] @ h0 + da_hh[:, N:] @ h[:-1].reshape((T - 1) * N, H)
    return dx, dW_ih, dW_hh


def _cut(window: int, t: int) -> bool:
    """True where truncated BPTT stops the gradient: between step t - 1 and the first step t of a window."""
    return t > 0 and t % window == 0


# --------------------------------------------------------------------------------------------------------
# Vanilla RNN
# --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RNNCache:
    """What [`rnn_backward`][dlref.rnn.rnn_backward] needs: the input, the states and the weights."""

    x: np.ndarray
    h0: np.ndarray
    h: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray
    nonlinearity: str


def rnn_forward(x, h0, params, nonlinearity="tanh"):
    r"""Elman RNN over a sequence, as `torch.nn.RNN`: $h_t = f(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh})$.

    Parameters
    ----------
    x : array_like, shape (T, N, D)
        Input sequence: T time steps of a batch of N sequences with D features (batch second).
    h0 : array_like, shape (N, H), or None
        Initial state $h_{-1}$; `None` means zeros, as in torch.
    params : dict
        `W_ih` `(H, D)`, `W_hh` `(H, H)`, `b_ih` and `b_hh` `(H,)`, torch's `weight_ih_l0`,
        `weight_hh_l0`, `bias_ih_l0` and `bias_hh_l0`.
    nonlinearity : {"tanh", "relu"}, default "tanh"
        $f$, as torch's `nonlinearity`.

    Returns
    -------
    h : numpy.ndarray, shape (T, N, H)
        Every hidden state $h_0, \dots, h_{T-1}$ (torch's `output`).
    h_T : numpy.ndarray, shape (N, H)
        The final state $h_{T-1}$ (torch's `h_n[0]`); a copy, equal to `h[-1]`.
    cache : RNNCache
        For [`rnn_backward`][dlref.rnn.rnn_backward].

    Raises
    ------
    ValueError
        If a shape does not fit, a key is missing, or an input holds NaN or inf.
    TypeError
        If `params` is not a dict or an input is not real-valued.

    Notes
    -----
    The same weights act at every step: the network unrolled over T steps is a T-layer network whose
    layers share $W_{ih}$, $W_{hh}$ and the biases. The input products $W_{ih} x_t$ of all steps are one
    matrix product, computed before the loop; only $W_{hh} h_{t-1}$ must wait for the previous step.

    Backward (see [`rnn_backward`][dlref.rnn.rnn_backward]): with $a_t$ the pre-activation and
    $\delta_t = \partial L/\partial h_t$ the total gradient reaching $h_t$ (from the loss directly and from
    step $t + 1$),

    $$\frac{\partial L}{\partial a_t} = \delta_t \odot f'(a_t), \qquad
      \delta_{t-1} = \frac{\partial L}{\partial h_{t-1}}\Big|_\text{direct} + \frac{\partial L}{\partial a_t} W_{hh},$$

    and every shared parameter's gradient is the sum over steps, $\partial L/\partial W_{hh} =
    \sum_t (\partial L/\partial a_t)^\top h_{t-1}$. $f'$ is read from the output: $1 - h_t^2$ for tanh,
    $[h_t > 0]$ for ReLU (torch's convention at 0).

    References
    ----------
    Elman, J. L. (1990). Finding structure in time. *Cognitive Science*, 14(2).

    Examples
    --------
    >>> params = init_params("rnn", 2, 3, rng=np.random.default_rng(0))
    >>> h, h_T, cache = rnn_forward(np.ones((4, 1, 2)), None, params)
    >>> print(h.shape, h_T.shape, np.array_equal(h[-1], h_T))
    (4, 1, 3) (1, 3) True
    """
    nonlinearity = check_choice(nonlinearity, "nonlinearity", _NONLINEARITIES)
    x, (h0,), params, H, dtype = _forward_inputs(x, {"h0": h0}, params, "rnn")
    T, N, D = x.shape
    # Step t multiplies the row stack [h_{t-1}, x_t, 1] by one weight matrix: the recurrent product, the
    # input projection and both biases in a single matrix product. With one block of H units there is no
    # gate to separate, so the loop keeps torch's (N, H) layout.
    W = np.column_stack([params["W_hh"], params["W_ih"], params["b_ih"] + params["b_hh"]])
    W = np.ascontiguousarray(W.T, dtype=dtype)  # (H + D + 1, H)
    stacked = _stacked_inputs(x, h0, dtype, columns=False)
    a = np.empty((N, H), dtype=dtype)
    for t in range(T):
        np.matmul(stacked[t], W, out=a)
        if nonlinearity == "tanh":
            np.tanh(a, out=stacked[t + 1, :, :H])
        else:
            np.maximum(a, 0.0, out=stacked[t + 1, :, :H])
    h = np.ascontiguousarray(stacked[1:, :, :H])
    return h, h[-1].copy(), RNNCache(x, h0, h, params["W_ih"], params["W_hh"], nonlinearity)


def rnn_backward(dh, cache, dh_T=None, *, window=None):
    r"""Backpropagation through time for [`rnn_forward`][dlref.rnn.rnn_forward].

    Parameters
    ----------
    dh : array_like, shape (T, N, H), or None
        $\partial L/\partial h_t$ for every step (the gradient of torch's `output`); `None` for zeros.
    cache : RNNCache
        From the forward pass.
    dh_T : array_like, shape (N, H), optional
        $\partial L/\partial h_T$ of the final state returned separately (torch's `h_n`); it adds to
        `dh[-1]`.
    window : int, optional
        Truncated BPTT: the gradient stops between step $kw - 1$ and step $kw$ for every $k \ge 1$, as when
        the sequence is fed in chunks of `window` steps with the state carried over but detached
        (`h.detach()` in torch), the chunks' gradients summed. `None` (or any window of at least T steps)
        is full backpropagation.

    Returns
    -------
    dx : numpy.ndarray, shape (T, N, D)
    dh0 : numpy.ndarray, shape (N, H)
        Gradient of the initial state.
    grads : dict of str to numpy.ndarray
        Same keys and shapes as the parameters.

    Raises
    ------
    ValueError
        If a gradient has the wrong shape or holds NaN or inf, or `window < 1`.
    TypeError
        If `window` is not an int.

    Notes
    -----
    The derivation is in [`rnn_forward`][dlref.rnn.rnn_forward]. Unrolling $\delta$ from step $T$ back to
    step $t$ multiplies it by $\prod_{s} \operatorname{diag}(f'(a_s))\,W_{hh}$: when the spectral radius
    of $W_{hh}$ is below one (and $|f'| \le 1$) the gradient shrinks geometrically with the distance; above
    one it can grow geometrically (Pascanu et al. 2013).

    References
    ----------
    Werbos, P. J. (1990). Backpropagation through time: what it does and how to do it. *Proc. IEEE*, 78(10).
    Williams, R. J. & Peng, J. (1990). An efficient gradient-based algorithm for on-line training of
    recurrent network trajectories. *Neural Computation*, 2(4).

    Examples
    --------
    >>> params = init_params("rnn", 2, 3, rng=np.random.default_rng(0))
    >>> h, h_T, cache = rnn_forward(np.ones((4, 1, 2)), None, params)
    >>> dx, dh0, grads = rnn_backward(None, cache, dh_T=np.ones((1, 3)))
    >>> print(dx.shape, dh0.shape, sorted(grads))
    (4, 1, 2) (1, 3) ['W_hh', 'W_ih', 'b_hh', 'b_ih']
    """
    h = cache.h
    T, N, H = h.shape
    dh = _upstream(dh, "dh", h.shape, h.dtype)
    delta = np.array(_upstream(dh_T, "dh_T", (N, H), h.dtype), dtype=h.dtype)  # a copy: updated in place
    window = _check_window(window, T)
    # f'(a_t), read from the outputs; the loop multiplies in the gradient step by step, in place.
    if cache.nonlinearity == "tanh":
        da = np.square(h)
        np.subtract(1.0, da, out=da)
    else:
        da = (h > 0).astype(h.dtype)
    for t in range(T - 1, -1, -1):
        delta += dh[t]
        da[t] *= delta
        if _cut(window, t):
            delta.fill(0.0)
        else:
            np.matmul(da[t], cache.W_hh, out=delta)
    da = da.reshape(T * N, H).T
    dx, dW_ih, dW_hh = _parameter_grads(da, da, cache.x, cache.h0, h, cache.W_ih)
    db = da.sum(axis=1)
    return dx, delta, {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db, "b_hh": db.copy()}


# --------------------------------------------------------------------------------------------------------
# LSTM
# --------------------------------------------------------------------------------------------------------

# lstm_forward stacks a step's gate blocks i, f, o, g (torch's order is i, f, g, o): the three sigmoid gates
# form one contiguous block, and [i; f] lines up with [g; c_{t-1}] for the cell update.
_LSTM_STEP_ORDER = (0, 1, 3, 2)
_LSTM_SIGMOIDS = (0, 1, 3)  # i, f and o in torch's order


@dataclass(frozen=True)
class LSTMCache:
    r"""What [`lstm_backward`][dlref.rnn.lstm_backward] needs: the gates after their activations, the cell
    states $c_t$ and $\tanh c_t$, the hidden states, the input and the weights. Every array is
    `(T, N, H)` except `x`, `h0`, `c0` and the weights."""

    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray
    i: np.ndarray
    f: np.ndarray
    g: np.ndarray
    o: np.ndarray
    c: np.ndarray
    tanh_c: np.ndarray
    h: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray


def lstm_forward(x, h0, c0, params):
    r"""Long short-term memory over a sequence, as `torch.nn.LSTM` (gates in torch's order i, f, g, o).

    With $a_t = W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}$ split into four blocks of $H$ rows,

    $$i_t = \sigma(a^i_t), \quad f_t = \sigma(a^f_t), \quad g_t = \tanh(a^g_t), \quad o_t = \sigma(a^o_t),$$

    $$c_t = f_t \odot c_{t-1} + i_t \odot g_t, \qquad h_t = o_t \odot \tanh(c_t).$$

    Parameters
    ----------
    x : array_like, shape (T, N, D)
        Input sequence, time first.
    h0, c0 : array_like, shape (N, H), or None
        Initial hidden and cell states; `None` means zeros.
    params : dict
        `W_ih` `(4H, D)`, `W_hh` `(4H, H)`, `b_ih` and `b_hh` `(4H,)`, rows in the order i, f, g, o.

    Returns
    -------
    h : numpy.ndarray, shape (T, N, H)
        Every hidden state (torch's `output`).
    (h_T, c_T) : tuple of numpy.ndarray, each (N, H)
        The final hidden and cell states (torch's `(h_n[0], c_n[0])`).
    cache : LSTMCache
        For [`lstm_backward`][dlref.rnn.lstm_backward].

    Raises
    ------
    ValueError
        If a shape does not fit, a key is missing, or an input holds NaN or inf.
    TypeError
        If `params` is not a dict or an input is not real-valued.

    Notes
    -----
    The cell state is the memory: it is updated by a gated *sum*, not by a matrix product and a squashing
    function, so $\partial c_t / \partial c_{t-1}$ contains the term $\operatorname{diag}(f_t)$, and a
    gradient travels back along the cells multiplied only by the forget gates. With $\delta^h_t$ and
    $\delta^c_t$ the total gradients reaching $h_t$ and $c_t$:

    $$\delta^c_t \mathrel{+}= \delta^h_t \odot o_t \odot (1 - \tanh^2 c_t), \qquad
      \frac{\partial L}{\partial o_t} = \delta^h_t \odot \tanh c_t,$$

    $$\frac{\partial L}{\partial i_t} = \delta^c_t \odot g_t, \quad
      \frac{\partial L}{\partial g_t} = \delta^c_t \odot i_t, \quad
      \frac{\partial L}{\partial f_t} = \delta^c_t \odot c_{t-1}, \quad
      \delta^c_{t-1} = \delta^c_t \odot f_t,$$

    then through the activations ($\sigma' = \sigma(1-\sigma)$, $\tanh' = 1 - \tanh^2$, both read from the
    cached outputs) to $\partial L/\partial a_t$, and $\delta^h_{t-1} \mathrel{+}= (\partial L/\partial a_t)
    W_{hh}$. Parameter gradients are sums over steps, as for [`rnn_forward`][dlref.rnn.rnn_forward].

    References
    ----------
    Hochreiter, S. & Schmidhuber, J. (1997). Long short-term memory. *Neural Computation*, 9(8).
    Gers, F. A., Schmidhuber, J. & Cummins, F. (2000). Learning to forget: continual prediction with LSTM.
    *Neural Computation*, 12(10).

    Examples
    --------
    >>> params = init_params("lstm", 2, 3, rng=np.random.default_rng(0))
    >>> h, (h_T, c_T), cache = lstm_forward(np.ones((4, 1, 2)), None, None, params)
    >>> print(h.shape, c_T.shape, cache.f.shape)
    (4, 1, 3) (1, 3) (4, 1, 3)
    """
    x, (h0, c0), params, H, dtype = _forward_inputs(x, {"h0": h0, "c0": c0}, params, "lstm")
    T, N, D = x.shape
    # Step t multiplies one weight matrix by the column stack [h_{t-1}; x_t; 1]: the recurrent product,
    # the input projection and both biases in a single matrix product.
    W = _blocks(np.column_stack([params["W_hh"], params["W_ih"], params["b_ih"] + params["b_hh"]]), H,
                _LSTM_STEP_ORDER, _LSTM_SIGMOIDS, dtype)
    stacked = _stacked_inputs(x, h0, dtype, columns=True)
    h_cols = stacked[1:, :H]
    steps = np.empty((T + 1, 5 * H, N), dtype=dtype)  # per step, in blocks of H rows: i, f, o, g, c_{t-1}
    steps[0, 4 * H:] = c0.T
    tanh_c = np.empty((T, H, N), dtype=dtype)
    products = np.empty((2 * H, N), dtype=dtype)
    with np.errstate(over="ignore"):  # see _sigmoid_of_negated
        for t in range(T):
            a = steps[t]  # the pre-activations, then overwritten by the gates
            np.matmul(W, stacked[t], out=a[:4 * H])
            _sigmoid_of_negated(a[:3 * H])  # i, f and o
            np.tanh(a[3 * H:4 * H], out=a[3 * H:4 * H])  # g
            np.multiply(a[:2 * H], a[3 * H:], out=products)  # i_t g_t and f_t c_{t-1}
            c_t = steps[t + 1, 4 * H:]
            np.add(products[:H], products[H:], out=c_t)
            np.tanh(c_t, out=tanh_c[t])
            np.multiply(a[2 * H:3 * H], tanh_c[t], out=h_cols[t])
    h = np.ascontiguousarray(_swap(h_cols))
    i, f, o, g = (_swap(steps[:T, k * H:(k + 1) * H]) for k in range(4))
    c = _swap(steps[1:, 4 * H:])
    cache = LSTMCache(x, h0, c0, i, f, g, o, c, _swap(tanh_c), h, params["W_ih"], params["W_hh"])
    return h, (h[-1].copy(), c[-1].copy()), cache


def lstm_backward(dh, cache, dh_T=None, dc_T=None, *, window=None):
    r"""Backpropagation through time for [`lstm_forward`][dlref.rnn.lstm_forward].

    Parameters
    ----------
    dh : array_like, shape (T, N, H), or None
        $\partial L/\partial h_t$ for every step; `None` for zeros.
    cache : LSTMCache
        From the forward pass.
    dh_T, dc_T : array_like, shape (N, H), optional
        Gradients of the final hidden and cell states returned separately (torch's `h_n`, `c_n`).
    window : int, optional
        Truncated BPTT as in [`rnn_backward`][dlref.rnn.rnn_backward]: both the hidden and the cell state
        are cut between windows of `window` steps.

    Returns
    -------
    dx : numpy.ndarray, shape (T, N, D)
    dh0, dc0 : numpy.ndarray, shape (N, H)
        Gradients of the initial hidden and cell states.
    grads : dict of str to numpy.ndarray
        Same keys and shapes as the parameters; `b_ih` and `b_hh` get the same gradient.

    Raises
    ------
    ValueError
        If a gradient has the wrong shape or holds NaN or inf, or `window < 1`.
    TypeError
        If `window` is not an int.

    Notes
    -----
    The derivation is in [`lstm_forward`][dlref.rnn.lstm_forward].

    Examples
    --------
    >>> params = init_params("lstm", 2, 3, rng=np.random.default_rng(0))
    >>> h, (h_T, c_T), cache = lstm_forward(np.ones((4, 1, 2)), None, None, params)
    >>> dx, dh0, dc0, grads = lstm_backward(np.ones_like(h), cache, dc_T=np.ones((1, 3)))
    >>> print(dx.shape, dc0.shape, grads["W_hh"].shape)
    (4, 1, 2) (1, 3) (12, 3)
    """
    h = cache.h
    T, N, H = h.shape
    dh = _upstream_steps(dh, h)
    delta_h = _state_columns(_upstream(dh_T, "dh_T", (N, H), h.dtype), h.dtype)
    delta_c = _state_columns(_upstream(dc_T, "dc_T", (N, H), h.dtype), h.dtype)
    window = _check_window(window, T)
    i, f, g, o, c, tanh_c = (_swap(a) for a in (cache.i, cache.f, cache.g, cache.o, cache.c, cache.tanh_c))
    # dL/da is delta_c times a factor for the i, f and g blocks and delta_h times a factor for the o block.
    # The factors do not depend on the gradient: they are computed for all steps at once, and the loop
    # multiplies in the gradient step by step, in place.
    factors = np.empty((T, 4, H, N), dtype=h.dtype)
    f_i, f_f, f_g, f_o = (factors[:, k] for k in range(4))
    np.subtract(1.0, i, out=f_i)  # g_t sigma'(a^i_t)
    f_i *= i
    f_i *= g
    np.subtract(1.0, f, out=f_f)  # c_{t-1} sigma'(a^f_t)
    f_f *= f
    f_f[0] *= cache.c0.T
    f_f[1:] *= c[:-1]
    np.square(g, out=f_g)  # i_t tanh'(a^g_t)
    np.subtract(1.0, f_g, out=f_g)
    f_g *= i
    np.subtract(1.0, o, out=f_o)  # tanh(c_t) sigma'(a^o_t)
    f_o *= o
    f_o *= tanh_c
    h_to_c = np.square(tanh_c)  # o_t tanh'(c_t): from h_t to c_t
    np.subtract(1.0, h_to_c, out=h_to_c)
    h_to_c *= o
    scratch = np.empty((H, N), dtype=h.dtype)
    for t in range(T - 1, -1, -1):
        delta_h += dh[t]
        np.multiply(delta_h, h_to_c[t], out=scratch)
        delta_c += scratch
        factors[t, :3] *= delta_c
        factors[t, 3] *= delta_h
        if _cut(window, t):
            delta_h.fill(0.0)
            delta_c.fill(0.0)
        else:
            np.matmul(cache.W_hh.T, factors[t].reshape(4 * H, N), out=delta_h)
            delta_c *= f[t]
    da = _time_major(factors.reshape(T, 4 * H, N))
    dx, dW_ih, dW_hh = _parameter_grads(da, da, cache.x, cache.h0, h, cache.W_ih)
    db = da.sum(axis=1)
    grads = {"W_ih": dW_ih, "W_hh": dW_hh, "b_ih": db, "b_hh": db.copy()}
    return dx, delta_h.T.copy(), delta_c.T.copy(), grads


# --------------------------------------------------------------------------------------------------------
# GRU
# --------------------------------------------------------------------------------------------------------

_GRU_SIGMOIDS = (0, 1)  # r and z
_GRU_BACKWARD_ORDER = (2, 0, 1)  # n, r, z: the recurrent product's gradient rows in gru_backward
_GRU_TORCH_ORDER = (1, 2, 0)  # where torch's r, z, n sit in _GRU_BACKWARD_ORDER


@dataclass(frozen=True)
class GRUCache:
    """What [`gru_backward`][dlref.rnn.gru_backward] needs: the gates $r_t$, $z_t$, the candidate $n_t$,
    the recurrent candidate term `hn` $= W_{hn} h_{t-1} + b_{hn}$, the hidden states, the input and the
    weights. Every array is `(T, N, H)` except `x`, `h0` and the weights."""

    x: np.ndarray
    h0: np.ndarray
    r: np.ndarray
    z: np.ndarray
    n: np.ndarray
    hn: np.ndarray
    h: np.ndarray
    W_ih: np.ndarray
    W_hh: np.ndarray


def gru_forward(x, h0, params):
    r"""Gated recurrent unit over a sequence, as `torch.nn.GRU` (gates in torch's order r, z, n).

    $$r_t = \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}), \qquad
      z_t = \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}),$$

    $$n_t = \tanh\big(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})\big), \qquad
      h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}.$$

    Parameters
    ----------
    x : array_like, shape (T, N, D)
        Input sequence, time first.
    h0 : array_like, shape (N, H), or None
        Initial state; `None` means zeros.
    params : dict
        `W_ih` `(3H, D)`, `W_hh` `(3H, H)`, `b_ih` and `b_hh` `(3H,)`, rows in the order r, z, n.

    Returns
    -------
    h : numpy.ndarray, shape (T, N, H)
        Every hidden state (torch's `output`).
    h_T : numpy.ndarray, shape (N, H)
        The final state (torch's `h_n[0]`).
    cache : GRUCache
        For [`gru_backward`][dlref.rnn.gru_backward].

    Raises
    ------
    ValueError
        If a shape does not fit, a key is missing, or an input holds NaN or inf.
    TypeError
        If `params` is not a dict or an input is not real-valued.

    Notes
    -----
    torch (like cuDNN) applies the reset gate *after* the recurrent product, $r_t \odot (W_{hn} h_{t-1} +
    b_{hn})$; Cho et al. (2014) write $W_{hn}(r_t \odot h_{t-1})$. The two are different functions, and
    this is torch's (Keras calls it `reset_after=True`). The update gate $z_t$ interpolates between keeping
    the old state ($z_t = 1$) and taking the candidate, a role the LSTM splits between its forget and input
    gates; there is no separate cell state and no output gate.

    Backward, with $\delta_t$ the total gradient reaching $h_t$:
    $\partial L/\partial n_t = \delta_t \odot (1 - z_t)$, $\partial L/\partial z_t = \delta_t \odot
    (h_{t-1} - n_t)$, and with $\bar n_t = (\partial L/\partial n_t) \odot (1 - n_t^2)$ the candidate's
    pre-activation gradient, $\partial L/\partial r_t = \bar n_t \odot (W_{hn} h_{t-1} + b_{hn})$. The
    input product receives $\bar n_t$ in its n block, the recurrent product $r_t \odot \bar n_t$; both
    receive the same r and z blocks. Finally $\delta_{t-1} \mathrel{+}= \delta_t \odot z_t +
    (\partial L/\partial a^{hh}_t) W_{hh}$.

    References
    ----------
    Cho, K. et al. (2014). Learning phrase representations using RNN encoder-decoder for statistical
    machine translation. EMNLP. arXiv:1406.1078.

    Examples
    --------
    >>> params = init_params("gru", 2, 3, rng=np.random.default_rng(0))
    >>> h, h_T, cache = gru_forward(np.ones((4, 1, 2)), None, params)
    >>> print(h.shape, cache.z.shape, bool(np.all((cache.z > 0) & (cache.z < 1))))
    (4, 1, 3) (4, 1, 3) True
    """
    x, (h0,), params, H, dtype = _forward_inputs(x, {"h0": h0}, params, "gru")
    T, N, D = x.shape
    W_ih, b_ih, b_hh = params["W_ih"], params["b_ih"], params["b_hh"]
    # Step t multiplies one weight matrix by the column stack [h_{t-1}; x_t; 1]: the r and z rows take the
    # recurrent and the input product with both biases, the n rows only W_hn h_{t-1} + b_hn, which the
    # reset gate scales. The candidate's input term W_in x_t + b_in is one product before the loop.
    W_x = W_ih.copy()
    W_x[2 * H:] = 0.0
    b = np.concatenate([b_ih[:2 * H] + b_hh[:2 * H], b_hh[2 * H:]])
    W = _blocks(np.column_stack([params["W_hh"], W_x, b]), H, (0, 1, 2), _GRU_SIGMOIDS, dtype)
    x_n = _input_projection(x, W_ih[2 * H:], b_ih[2 * H:], dtype)
    stacked = _stacked_inputs(x, h0, dtype, columns=True)
    h_cols = stacked[1:, :H]
    recurrent = np.empty((T, 3 * H, N), dtype=dtype)  # the step's product, then r and z in place, and hn
    n = np.empty((T, H, N), dtype=dtype)
    with np.errstate(over="ignore"):  # see _sigmoid_of_negated
        for t in range(T):
            a = recurrent[t]
            np.matmul(W, stacked[t], out=a)
            rz, hn = a[:2 * H], a[2 * H:]
            _sigmoid_of_negated(rz)
            np.multiply(rz[:H], hn, out=n[t])
            n[t] += x_n[:, t]
            np.tanh(n[t], out=n[t])
            np.subtract(stacked[t, :H], n[t], out=h_cols[t])  # h_t = (1 - z) n + z h_{t-1} = n + z (h_{t-1} - n)
            h_cols[t] *= rz[H:]
            h_cols[t] += n[t]
    h = np.ascontiguousarray(_swap(h_cols))
    r, z, hn = (_swap(recurrent[:, k * H:(k + 1) * H]) for k in range(3))
    cache = GRUCache(x, h0, r, z, _swap(n), hn, h, params["W_ih"], params["W_hh"])
    return h, h[-1].copy(), cache


def gru_backward(dh, cache, dh_T=None, *, window=None):
    r"""Backpropagation through time for [`gru_forward`][dlref.rnn.gru_forward].

    Parameters
    ----------
    dh : array_like, shape (T, N, H), or None
        $\partial L/\partial h_t$ for every step; `None` for zeros.
    cache : GRUCache
        From the forward pass.
    dh_T : array_like, shape (N, H), optional
        Gradient of the final state returned separately (torch's `h_n`).
    window : int, optional
        Truncated BPTT as in [`rnn_backward`][dlref.rnn.rnn_backward].

    Returns
    -------
    dx : numpy.ndarray, shape (T, N, D)
    dh0 : numpy.ndarray, shape (N, H)
    grads : dict of str to numpy.ndarray
        Same keys and shapes as the parameters. Unlike the RNN and the LSTM, `b_ih` and `b_hh` differ in
        the n block, where only $b_{hn}$ is scaled by the reset gate.

    Raises
    ------
    ValueError
        If a gradient has the wrong shape or holds NaN or inf, or `window < 1`.
    TypeError
        If `window` is not an int.

    Notes
    -----
    The derivation is in [`gru_forward`][dlref.rnn.gru_forward].

    Examples
    --------
    >>> params = init_params("gru", 2, 3, rng=np.random.default_rng(0))
    >>> h, h_T, cache = gru_forward(np.ones((4, 1, 2)), None, params)
    >>> dx, dh0, grads = gru_backward(np.ones_like(h), cache)
    >>> print(dx.shape, grads["W_ih"].shape, bool(np.allclose(grads["b_ih"], grads["b_hh"])))
    (4, 1, 2) (9, 2) False
    """
    h = cache.h
    T, N, H = h.shape
    dh = _upstream_steps(dh, h)
    delta = _state_columns(_upstream(dh_T, "dh_T", (N, H), h.dtype), h.dtype)
    window = _check_window(window, T)
    r, z, n, hn = (_swap(a) for a in (cache.r, cache.z, cache.n, cache.hn))
    # dL/da of both matrix products is delta_t times a factor per block that does not depend on the
    # gradient: the factors are computed for all steps at once, and the loop multiplies in the gradient
    # step by step, in place. The blocks are n, r, z of the recurrent product, then n of the input product:
    # blocks 0 to 2 are the recurrent product's gradient and blocks 1 to 3 (r, z, n) the input product's.
    factors = np.empty((T, 4, H, N), dtype=h.dtype)
    f_hn, f_r, f_z, f_in = (factors[:, k] for k in range(4))
    one_minus_z = np.subtract(1.0, z, out=f_r)  # f_r's block holds 1 - z_t until f_r is computed
    np.subtract(cache.h0.T, n[0], out=f_z[0])  # (h_{t-1} - n_t) sigma'(a^z_t)
    np.subtract(_swap(h[:-1]), n[1:], out=f_z[1:])
    f_z *= z
    f_z *= one_minus_z
    np.square(n, out=f_in)  # (1 - z_t) tanh'(a^n_t): from h_t to the candidate's pre-activation
    np.subtract(1.0, f_in, out=f_in)
    f_in *= one_minus_z
    np.multiply(f_in, r, out=f_hn)  # the reset gate scales the recurrent candidate term
    np.subtract(1.0, r, out=f_r)  # f_in (W_hn h_{t-1} + b_hn) sigma'(a^r_t)
    f_r *= f_hn
    f_r *= hn
    W_hh = _blocks(cache.W_hh, H, _GRU_BACKWARD_ORDER)
    scratch = np.empty((H, N), dtype=h.dtype)
    for t in range(T - 1, -1, -1):
        delta += dh[t]
        factors[t] *= delta
        if _cut(window, t):
            delta.fill(0.0)
        else:
            np.matmul(W_hh.T, factors[t, :3].reshape(3 * H, N), out=scratch)
            delta *= z[t]
            delta += scratch
    da = _time_major(factors.reshape(T, 4 * H, N))
    dx, dW_ih, dW_hh = _parameter_grads(da[H:], da[:3 * H], cache.x, cache.h0, h, cache.W_ih)
    db = da.sum(axis=1)
    grads = {"W_ih": dW_ih, "W_hh": _blocks(dW_hh, H, _GRU_TORCH_ORDER), "b_ih": db[H:],
             "b_hh": _blocks(db[:3 * H], H, _GRU_TORCH_ORDER)}
    return dx, delta.T.copy(), grads
