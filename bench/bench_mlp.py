"""The digits MLP (64-128-10, ReLU, Adam, 20 epochs, batch 32) trained by dlref, torch and scikit-learn.

dlref and torch start from the same weights (copied from the dlref model) and see the same batches in the
same order, so in float64 they follow the same trajectory; the script checks that. scikit-learn's
MLPClassifier gets the same architecture and hyperparameters but draws its own initial weights and batch
order (it has no hook for either), and no L2 penalty (alpha=0). Each library trains REPEATS times in its
own block, single-threaded; the median wall time and the median CPU time (process time) of the training
loop are reported, imports and data loading excluded. On a shared machine the CPU time is the steadier of
the two: other processes stretch the wall time but not the time this process actually ran. Run with
`make bench` or `python -m bench`.
"""

import os

# Pinned before numpy and torch load: on two cores their thread pools fight (see DESIGN.md).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

from dlref.data import load_digits  # noqa: E402
from dlref.models import MLP  # noqa: E402

WIDTHS = (64, 128, 10)
EPOCHS = 20
BATCH_SIZE = 32
LR = 1e-2  # the setting of the digits learning check in tests/test_models.py
REPEATS = 3
INIT_SEED, SHUFFLE_SEED = 0, 1


def _clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _elapsed(start: tuple[float, float]) -> tuple[float, float]:
    """Wall and CPU seconds since `start`."""
    wall, cpu = _clocks()
    return wall - start[0], cpu - start[1]


def train_dlref(digits, dtype):
    model = MLP(WIDTHS, "relu", rng=np.random.default_rng(INIT_SEED), dtype=dtype)
    X = digits.X_train.astype(dtype)
    start = _clocks()
    model.fit(X, digits.y_train, epochs=EPOCHS, batch_size=BATCH_SIZE, rng=np.random.default_rng(SHUFFLE_SEED),
              optimizer_kwargs={"lr": LR})
    seconds = _elapsed(start)
    return seconds, model.accuracy(digits.X_test.astype(dtype), digits.y_test), model.params


def train_torch(digits, dtype):
    import torch

    torch_dtype = {np.float32: torch.float32, np.float64: torch.float64}[dtype]
    initial = MLP(WIDTHS, "relu", rng=np.random.default_rng(INIT_SEED), dtype=dtype).params
    net = torch.nn.Sequential(torch.nn.Linear(WIDTHS[0], WIDTHS[1]), torch.nn.ReLU(),
                              torch.nn.Linear(WIDTHS[1], WIDTHS[2])).to(torch_dtype)
    with torch.no_grad():
        for linear, layer in ((net[0], 1), (net[2], 2)):
            linear.weight.copy_(torch.from_numpy(initial[f"W{layer}"]))
            linear.bias.copy_(torch.from_numpy(initial[f"b{layer}"]))
    optimizer = torch.optim.Adam(net.parameters(), lr=LR)
    X = torch.from_numpy(digits.X_train.astype(dtype))
    y = torch.from_numpy(digits.y_train)
    rng = np.random.default_rng(SHUFFLE_SEED)
    start = _clocks()
    for _ in range(EPOCHS):
        # The order dlref.data.minibatches draws: one permutation of the examples per epoch.
        order = torch.from_numpy(rng.permutation(len(X)))
        for first in range(0, len(X), BATCH_SIZE):
            batch = order[first:first + BATCH_SIZE]
            loss = torch.nn.functional.cross_entropy(net(X[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():  # MLP.fit records the training accuracy after every epoch; so does this loop
            (net(X).argmax(dim=1) == y).double().mean()
    seconds = _elapsed(start)
    with torch.no_grad():
        predicted = net(torch.from_numpy(digits.X_test.astype(dtype))).argmax(dim=1).numpy()
    params = {"W1": net[0].weight, "b1": net[0].bias, "W2": net[2].weight, "b2": net[2].bias}
    return seconds, float(np.mean(predicted == digits.y_test)), {k: v.detach().numpy() for k, v in params.items()}


def train_sklearn(digits, dtype):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    classifier = MLPClassifier(hidden_layer_sizes=WIDTHS[1:-1], activation="relu", solver="adam", alpha=0.0,
                               batch_size=BATCH_SIZE, learning_rate_init=LR, max_iter=EPOCHS, shuffle=True,
                               random_state=INIT_SEED, tol=0.0, n_iter_no_change=EPOCHS + 1)
    X = digits.X_train.astype(dtype)
    start = _clocks()
    with warnings.catch_warnings():  # max_iter=20 epochs is the point, not a failure to converge
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(X, digits.y_train)
    seconds = _elapsed(start)
    return seconds, float(classifier.score(digits.X_test.astype(dtype), digits.y_test)), None


def measure(train, digits, dtype):
    """Median wall and CPU times over REPEATS runs, with the accuracy and final parameters of the last run."""
    runs = [train(digits, dtype) for _ in range(REPEATS)]
    wall = statistics.median(seconds[0] for seconds, _, _ in runs)
    cpu = statistics.median(seconds[1] for seconds, _, _ in runs)
    return (wall, cpu), runs[-1][1], runs[-1][2]


def main():
    import sklearn
    import torch

    torch.set_num_threads(1)
    digits = load_digits()
    print(f"digits: {len(digits.y_train)} training and {len(digits.y_test)} test images; MLP {WIDTHS}, ReLU, "
          f"Adam lr={LR}, {EPOCHS} epochs, batch {BATCH_SIZE}; median of {REPEATS} runs, 1 thread")
    print(f"numpy {np.__version__}, torch {torch.__version__}, scikit-learn {sklearn.__version__}")
    print(f"{'library':<14}{'dtype':<9}{'wall time':>11}{'CPU time':>11}{'test accuracy':>15}")
    results = {}
    for name, train, dtypes in (("dlref", train_dlref, (np.float64, np.float32)),
                                ("torch", train_torch, (np.float64, np.float32)),
                                ("scikit-learn", train_sklearn, (np.float64,))):
        for dtype in dtypes:
            seconds, accuracy, params = measure(train, digits, dtype)
            results[name, dtype] = seconds, accuracy, params
            print(f"{name:<14}{np.dtype(dtype).name:<9}{seconds[0]:>9.3f} s{seconds[1]:>9.3f} s{accuracy:>15.4f}")

    for dtype in (np.float64, np.float32):
        ours, theirs = results["dlref", dtype][2], results["torch", dtype][2]
        gap = max(float(np.max(np.abs(ours[k] - theirs[k]))) for k in ours)
        print(f"{np.dtype(dtype).name}: largest difference between the final dlref and torch weights {gap:.1e}")
    comparisons = [("torch", np.float64), ("torch", np.float32), ("scikit-learn", np.float64)]
    for other, dtype in comparisons:
        (wall, cpu), (other_wall, other_cpu) = results["dlref", dtype][0], results[other, dtype][0]
        print(f"time ratio dlref / {other} ({np.dtype(dtype).name}): wall {wall / other_wall:.2f}, "
              f"CPU {cpu / other_cpu:.2f}")


if __name__ == "__main__":
    main()
