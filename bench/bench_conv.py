"""conv2d forward + backward: dlref (numpy, im2col) against torch on the CPU, one thread each.

Run with `make bench` (or `python bench/bench_conv.py`). Prints, for each layer shape and dtype, the
best time of several repeats for both libraries, timed in turn, and their ratio; the target is a ratio
of at most 2.
"""

import os

# Pinned before numpy and torch load: on a 2-core machine, two thread pools fight (see DESIGN.md).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import math  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from dlref.conv import conv2d_backward, conv2d_forward  # noqa: E402

torch.set_num_threads(1)

BATCH = 64
LAYERS = [(1, 16, 28), (16, 32, 14)]  # (C_in, C_out, height = width); 3x3 kernels, padding 1
REPEATS = 20
TARGET_RATIO = 2.0


def best_seconds(steps, repeats=REPEATS) -> list[float]:
    """Best CPU time of each step over `repeats` rounds after one warm-up. The steps take turns within each
    round, so that a change in the load of a shared machine affects them alike. CPU time
    (`time.process_time`) rather than wall time, and the best of several, so that other processes disturb
    it least; with one thread per library the two are equal on an idle machine."""
    for step in steps:
        step()
    best = [math.inf] * len(steps)
    for _ in range(repeats):
        for k, step in enumerate(steps):
            start = time.process_time()
            step()
            best[k] = min(best[k], time.process_time() - start)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"conv2d forward + backward, N = {BATCH}, 3x3 kernel, padding 1, 1 thread, best CPU time of {REPEATS}")
    print(f"{'layer':<22}{'dtype':<9}{'dlref':>10}{'torch':>10}{'ratio':>8}")
    ratios = []
    for C_in, C_out, size in LAYERS:
        for dtype in (np.float32, np.float64):
            x = rng.normal(size=(BATCH, C_in, size, size)).astype(dtype)
            W = rng.normal(size=(C_out, C_in, 3, 3)).astype(dtype)
            b = rng.normal(size=C_out).astype(dtype)
            dy = rng.normal(size=(BATCH, C_out, size, size)).astype(dtype)

            def dlref_step():
                _, cache = conv2d_forward(x, W, b, padding=1)
                conv2d_backward(dy, cache)

            xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
            dyt = torch.tensor(dy)

            def torch_step():
                y = torch.nn.functional.conv2d(xt, Wt, bt, padding=1)
                torch.autograd.grad(y, (xt, Wt, bt), dyt)

            ours, theirs = best_seconds([dlref_step, torch_step])
            ratios.append(ours / theirs)
            layer = f"{C_in}->{C_out}, {size}x{size}"
            print(f"{layer:<22}{np.dtype(dtype).name:<9}{ours * 1e3:>7.2f} ms{theirs * 1e3:>7.2f} ms"
                  f"{ours / theirs:>7.2f}x")
    verdict = "within" if max(ratios) <= TARGET_RATIO else "above"
    print(f"worst ratio {max(ratios):.2f}x: {verdict} the target of {TARGET_RATIO:.0f}x torch")


if __name__ == "__main__":
    main()
