"""RBM training against scikit-learn's BernoulliRBM, and the GAN on the ring of Gaussians against torch.

RBM: scikit-learn's example settings (BernoulliRBM(n_components=100, learning_rate=0.06, n_iter=10,
batch_size=10, random_state=0)) on the min-max-scaled nudged digits, training split (7188 x 64), in float32
as the example builds its data and in float64. dlref trains the same way: PCD-1, plain SGD with lr 0.06,
batches of 10 in the data's order, 10 epochs. Each library fits REPEATS times, the two alternately; the
best CPU time (process time) of each is compared, and the best wall time printed beside it. Quality: the
exact mean pseudo-likelihood of the test split (1797 images), computed for both models by the same
scorer, `dlref.models.RBM.pseudo_likelihood`, with scikit-learn's fitted weights loaded into a dlref RBM.

GAN: generator 2-64-64-2 and discriminator 2-128-128-1 (ReLU), Adam lr 2e-3, betas (0.5, 0.999), batch 128,
1200 steps, float64 (the configuration, seeds and dtype of docs/gan.md and tests/test_gan.py). The torch
GAN (tests/torch_gan.py) starts from the dlref GAN's initial weights and sees the same data and noise,
drawn the same way; the two train alternately in chunks of CHUNK steps, so machine load affects both,
and the total CPU time of each is compared. Quality: `dlref.models.gan.mode_coverage` of 2000 samples from
the same noise (modes covered, and the fraction of samples within 0.5 of a mode centre).

Ratios are dlref / other: below 1 means dlref is faster. Target (issue 5): no slower than scikit-learn
and torch, ratio <= 1.0. One thread for every library.
"""

import os

# Pinned before numpy and torch load: on two cores their thread pools fight (see DESIGN.md).
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the tests' oracles

from dlref.data import ring_centres, ring_of_gaussians  # noqa: E402
from dlref.models import RBM  # noqa: E402
from dlref.models.gan import GAN, mode_coverage  # noqa: E402

TARGET = 1.0
REPEATS = 5
RBM_SETTINGS = dict(n_components=100, learning_rate=0.06, n_iter=10, batch_size=10)
GAN_STEPS, CHUNK, BATCH_SIZE = 1200, 100, 128
GAN_SETTINGS = dict(generator_lr=2e-3, discriminator_lr=2e-3, betas=(0.5, 0.999))


def _clocks() -> np.ndarray:
    return np.array([time.perf_counter(), time.process_time()])


def _verdict(ratio: float) -> str:
    return "ok" if ratio <= TARGET else f"above target {TARGET}"


def _fit_dlref_rbm(X_train: np.ndarray) -> RBM:
    rbm = RBM(64, RBM_SETTINGS["n_components"], rng=np.random.default_rng(0), dtype=X_train.dtype)
    rbm.fit(X_train, epochs=RBM_SETTINGS["n_iter"], batch_size=RBM_SETTINGS["batch_size"],
            rng=np.random.default_rng(1), method="pcd", shuffle=False,
            optimizer_kwargs={"lr": RBM_SETTINGS["learning_rate"]})
    return rbm


def _fit_sklearn_rbm(X_train: np.ndarray):
    from sklearn.neural_network import BernoulliRBM

    return BernoulliRBM(**RBM_SETTINGS, random_state=0).fit(X_train)


def bench_rbm() -> None:
    from tests.test_rbm import nudged_digits

    X_train, X_test, _, _ = nudged_digits()
    print(f"RBM: nudged digits {X_train.shape}, {RBM_SETTINGS}, PCD-1; best of {REPEATS} fits each, "
          f"alternating; ratio = dlref / scikit-learn CPU time")
    for dtype in (np.float32, np.float64):
        X = X_train.astype(dtype)
        best = {"dlref": np.full(2, np.inf), "scikit-learn": np.full(2, np.inf)}
        models = {}
        for _ in range(REPEATS):
            for name, fit in (("dlref", _fit_dlref_rbm), ("scikit-learn", _fit_sklearn_rbm)):
                start = _clocks()
                models[name] = fit(X)
                best[name] = np.minimum(best[name], _clocks() - start)
        sk = models["scikit-learn"]
        sk_in_dlref = RBM(64, RBM_SETTINGS["n_components"], rng=np.random.default_rng(0), dtype=np.float64)
        sk_in_dlref.params = {"W": sk.components_.astype(np.float64),
                              "b_visible": sk.intercept_visible_.astype(np.float64),
                              "b_hidden": sk.intercept_hidden_.astype(np.float64)}
        ours = models["dlref"]
        ours.params = {key: value.astype(np.float64) for key, value in ours.params.items()}
        pl_ours = ours.pseudo_likelihood(X_test.astype(np.float64)).mean()
        pl_sklearn = sk_in_dlref.pseudo_likelihood(X_test.astype(np.float64)).mean()
        ratio = best["dlref"][1] / best["scikit-learn"][1]
        print(f"RBM {np.dtype(dtype).name}: dlref {best['dlref'][1]:.3f} s, scikit-learn "
              f"{best['scikit-learn'][1]:.3f} s CPU (wall {best['dlref'][0]:.3f} s, {best['scikit-learn'][0]:.3f} s), "
              f"ratio {ratio:.2f} ({_verdict(ratio)}); test pseudo-likelihood dlref {pl_ours:.2f}, "
              f"scikit-learn {pl_sklearn:.2f} nats", flush=True)


def bench_gan() -> None:
    import torch

    from tests.torch_gan import torch_gan_step
    from tests.torch_mlp import torch_copy

    torch.set_num_threads(1)
    gan = GAN(2, 2, (64, 64), (128, 128), "relu", rng=np.random.default_rng(2))
    G_t, D_t = torch_copy(gan.generator), torch_copy(gan.discriminator)
    opt_g = torch.optim.Adam(G_t.parameters(), lr=GAN_SETTINGS["generator_lr"], betas=GAN_SETTINGS["betas"])
    opt_d = torch.optim.Adam(D_t.parameters(), lr=GAN_SETTINGS["discriminator_lr"], betas=GAN_SETTINGS["betas"])
    dlref_rng, torch_rng = np.random.default_rng(1002), np.random.default_rng(1002)

    def train_torch(steps: int) -> None:
        for _ in range(steps):  # the draws GAN.fit makes: a batch of data, then the noise
            x_real = torch.from_numpy(ring_of_gaussians(BATCH_SIZE, torch_rng))
            z = torch.from_numpy(torch_rng.standard_normal((BATCH_SIZE, 2)))
            torch_gan_step(G_t, D_t, opt_g, opt_d, x_real, z)

    print(f"GAN: ring of 8 Gaussians, G 2-64-64-2, D 2-128-128-1, ReLU, Adam {GAN_SETTINGS}, batch "
          f"{BATCH_SIZE}, {GAN_STEPS} steps, float64; trained alternately in chunks of {CHUNK} steps; "
          f"ratio = dlref / torch CPU time")
    total = {"dlref": np.zeros(2), "torch": np.zeros(2)}
    for _ in range(GAN_STEPS // CHUNK):
        start = _clocks()
        gan.fit(ring_of_gaussians, steps=CHUNK, batch_size=BATCH_SIZE, rng=dlref_rng, **GAN_SETTINGS)
        middle = _clocks()
        train_torch(CHUNK)
        total["dlref"] += middle - start
        total["torch"] += _clocks() - middle
    z = np.random.default_rng(8).standard_normal((2000, 2))
    with torch.no_grad():
        samples = {"dlref": gan.generator.forward(z)[0], "torch": G_t(torch.from_numpy(z)).numpy()}
    quality = {name: mode_coverage(points, ring_centres()) for name, points in samples.items()}
    ratio = total["dlref"][1] / total["torch"][1]
    print(f"GAN float64: dlref {total['dlref'][1]:.3f} s, torch {total['torch'][1]:.3f} s CPU (wall "
          f"{total['dlref'][0]:.3f} s, {total['torch'][0]:.3f} s), ratio {ratio:.2f} ({_verdict(ratio)}); "
          + "; ".join(f"{name} covers {q.modes_covered} modes, {q.high_quality:.3f} within 0.5"
                      for name, q in quality.items()), flush=True)


def main() -> None:
    bench_rbm()
    bench_gan()


if __name__ == "__main__":
    main()
