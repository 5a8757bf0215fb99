"""LSTM and GRU forward + backward: dlref (numpy) against torch on the CPU, measured in one run.

T=50, N=32, D=64, H=128, in float32 and float64, with 1 and 2 threads for both libraries. Each line prints
the best time of several repeats for each library and their ratio (dlref / torch; below 1 means dlref is
faster). The two libraries run with the same thread count, each in its own blocks of calls, and the blocks
alternate over several rounds, so that a change of machine load during the run affects both libraries
alike. Each block starts with a warm-up call, after a pause in which the other library's idle worker
threads go to sleep: with 2 threads, OpenBLAS's worker spins for about 0.13 s of CPU after a call (torch's
OpenMP workers for a few ms), and would otherwise compete with the next block for the second core.
Targets (issue 4): no slower than torch in float64, at most 1.5 times torch in float32.
"""

import time

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from dlref import rnn

T, N, D, H = 50, 32, 64, 128
REPEATS, CALLS, ROUNDS = 15, 3, 15  # per library: REPEATS timings of CALLS calls, spread over ROUNDS rounds
PAUSE_SECONDS = 0.2
TARGETS = {"float64": 1.0, "float32": 1.5}


def _dlref_step(cell: str, x: np.ndarray, params: dict, dh: np.ndarray):
    if cell == "lstm":
        h, _, cache = rnn.lstm_forward(x, None, None, params)
        return rnn.lstm_backward(dh, cache)
    h, _, cache = rnn.gru_forward(x, None, params)
    return rnn.gru_backward(dh, cache)


def _torch_step(module, x: torch.Tensor, dh: torch.Tensor):
    module.zero_grad(set_to_none=True)
    x.grad = None
    out, _ = module(x)
    out.backward(dh)


def _best_seconds(fns: dict) -> dict:
    """The best time per call of each function, timed in blocks that alternate between the functions."""
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(ROUNDS):
        for name, fn in fns.items():
            time.sleep(PAUSE_SECONDS)
            fn()  # warm-up
            for _ in range(REPEATS // ROUNDS):
                start = time.perf_counter()
                for _ in range(CALLS):
                    fn()
                best[name] = min(best[name], (time.perf_counter() - start) / CALLS)
    return best


def main() -> None:
    print(f"T={T} N={N} D={D} H={H}; best of {REPEATS} x {CALLS} calls in {ROUNDS} alternating rounds; "
          f"ratio = dlref / torch")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            for dtype in ("float64", "float32"):
                for cell in ("lstm", "gru"):
                    rng = np.random.default_rng(0)
                    params = rnn.init_params(cell, D, H, rng=rng, dtype=np.dtype(dtype))
                    x = rng.normal(size=(T, N, D)).astype(dtype)
                    dh = rng.normal(size=(T, N, H)).astype(dtype)
                    module = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(D, H, dtype=getattr(torch, dtype))
                    with torch.no_grad():
                        for ours, theirs in (("W_ih", "weight_ih_l0"), ("W_hh", "weight_hh_l0"),
                                             ("b_ih", "bias_ih_l0"), ("b_hh", "bias_hh_l0")):
                            getattr(module, theirs).copy_(torch.from_numpy(params[ours]))
                    x_t, dh_t = torch.tensor(x, requires_grad=True), torch.tensor(dh)
                    seconds = _best_seconds({"dlref": lambda: _dlref_step(cell, x, params, dh),
                                             "torch": lambda: _torch_step(module, x_t, dh_t)})
                    ours, theirs = seconds["dlref"], seconds["torch"]
                    ratio = ours / theirs
                    verdict = "ok" if ratio <= TARGETS[dtype] else f"above target {TARGETS[dtype]}"
                    print(f"{cell:<4} {dtype} threads={threads}: dlref {1e3 * ours:7.2f} ms, torch "
                          f"{1e3 * theirs:7.2f} ms, ratio {ratio:.2f} ({verdict})", flush=True)


if __name__ == "__main__":
    main()
