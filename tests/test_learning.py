"""Learning checks with fixed seeds: small networks reach the quality the pages claim, in well under a second.

The digits check (an MLP 64-128-10 at >= 0.97 test accuracy) lives in tests/test_models.py.
"""

import numpy as np

from dlref.data import spiral, two_moons
from dlref.models import MLP


def test_two_layer_network_fits_the_three_class_spiral():
    X, y = spiral(100, 3, np.random.default_rng(0))
    model = MLP((2, 100, 3), "relu", rng=np.random.default_rng(0))
    assert model.accuracy(X, y) < 0.5  # near chance (1/3) before training
    history = model.fit(X, y, epochs=200, batch_size=len(X), rng=np.random.default_rng(1),
                        optimizer_kwargs={"lr": 3e-2})
    assert history["loss"][-1] < 0.1 * history["loss"][0]
    assert model.accuracy(X, y) >= 0.98


def test_mlp_2_16_16_1_separates_one_hundred_two_moons_points():
    X, y = two_moons(100, np.random.default_rng(0), noise=0.1)
    model = MLP((2, 16, 16, 1), "relu", rng=np.random.default_rng(0))
    history = model.fit(X, y[:, None].astype(np.float64), epochs=200, batch_size=len(X),
                        rng=np.random.default_rng(1), optimizer_kwargs={"lr": 1e-2}, loss="bce_with_logits")
    assert history["train_accuracy"][0] < 1.0
    assert model.accuracy(X, y[:, None], loss="bce_with_logits") == 1.0
