"""dlref.models.autoencoder: gradients by finite differences and against torch, PCA as the oracle of the
linear autoencoder, scikit-learn's AUROC, learning checks on the digits, and errors."""

import numpy as np
import pytest
import torch
from scipy.linalg import subspace_angles
from sklearn.decomposition import PCA
from sklearn.metrics import roc_auc_score

from dlref.data import load_digits, minibatches
from dlref.gradcheck import numerical_gradients, relative_error
from dlref.models.autoencoder import Autoencoder, DenoisingAutoencoder, roc_auc
from dlref.optim import adam_step


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.mark.parametrize("loss", ["mse", "bce_with_logits"])
@pytest.mark.parametrize("denoising", [False, True])
def test_gradients_match_finite_differences(loss, denoising):
    rng = np.random.default_rng(0)
    kind = DenoisingAutoencoder if denoising else Autoencoder
    ae = kind((6, 4, 2), "tanh", rng=rng, loss=loss)
    x = rng.random((5, 6))
    x_input = ae.corrupt(x, rng) if denoising else x

    def mean_loss(params):
        ae.network.params = params
        return np.array(ae.loss_and_grads(x_input, x)[0])

    _, analytic = ae.loss_and_grads(x_input, x)
    numeric = numerical_gradients(mean_loss, dict(ae.network.params), np.array(1.0))
    for key in analytic:
        assert relative_error(analytic[key], numeric[key]) < 1e-7, key


@pytest.mark.parametrize("loss", ["mse", "bce_with_logits"])
def test_loss_and_gradients_match_torch(loss):
    rng = np.random.default_rng(1)
    ae = Autoencoder((7, 5, 3), "elu", rng=rng, loss=loss)
    x = rng.random((4, 7))
    layers = []
    for layer in range(1, ae.network.n_layers + 1):
        W = ae.network.params[f"W{layer}"]
        linear = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(W))
            linear.bias.copy_(torch.tensor(ae.network.params[f"b{layer}"]))
        layers += [linear, torch.nn.ELU()]
    net = torch.nn.Sequential(*layers[:-1])
    target = torch.tensor(x)
    criterion = torch.nn.MSELoss() if loss == "mse" else torch.nn.BCEWithLogitsLoss()
    loss_torch = criterion(net(target), target)
    loss_torch.backward()
    value, grads = ae.loss_and_grads(x, x)
    np.testing.assert_allclose(value, loss_torch.item(), rtol=1e-12)
    ours = [grads[f"{kind}{layer}"] for layer in range(1, ae.network.n_layers + 1) for kind in "Wb"]
    for mine, theirs in zip(ours, [p.grad.numpy() for p in net.parameters()], strict=True):
        np.testing.assert_allclose(mine, theirs, rtol=1e-10, atol=1e-13)
    # the code is the activation of the bottleneck layer; the reconstruction the network's output
    with torch.no_grad():
        np.testing.assert_allclose(ae.encode(x), net[:4](target).numpy(), rtol=1e-12)
        output = net(target)
        expected = output if loss == "mse" else torch.sigmoid(output)
        np.testing.assert_allclose(ae.reconstruct(x), expected.numpy(), rtol=1e-12)


def test_linear_autoencoder_learns_the_pca_subspace(digits):
    """Baldi & Hornik (1989): the decoder of a linear autoencoder spans the top principal components."""
    X, X_test = digits.X_train, digits.X_test
    ae = Autoencoder((64, 3), "identity", rng=np.random.default_rng(0))
    ae.fit(X, epochs=600, batch_size=len(X), rng=np.random.default_rng(1), optimizer_kwargs={"lr": 3e-2})
    pca = PCA(3).fit(X)
    angles = np.degrees(subspace_angles(ae.network.params["W2"], pca.components_.T))
    assert angles.max() < 1.0
    # ... but not the orthonormal principal directions themselves
    columns = ae.network.params["W2"] / np.linalg.norm(ae.network.params["W2"], axis=0)
    assert np.abs(columns.T @ columns - np.eye(3)).max() > 0.05
    pca_error = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    assert abs(ae.reconstruction_error(X_test).mean() - pca_error) < 1e-3 * pca_error
    worse = PCA(2).fit(X)
    assert np.mean((worse.inverse_transform(worse.transform(X_test)) - X_test) ** 2) > 1.1 * pca_error


def test_nonlinear_autoencoder_beats_pca_at_a_small_code(digits):
    X, X_test = digits.X_train, digits.X_test
    ae = Autoencoder((64, 32, 4), "elu", rng=np.random.default_rng(0))
    history = ae.fit(X, epochs=30, batch_size=32, rng=np.random.default_rng(1), optimizer_kwargs={"lr": 3e-3},
                     validation=X_test)
    assert history["val_error"][-1] < 0.5 * history["val_error"][0]
    pca = PCA(4).fit(X)
    pca_error = np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)
    assert ae.reconstruction_error(X_test).mean() < 0.85 * pca_error


def test_denoising_autoencoder_removes_masking_noise_better_than_a_plain_one(digits):
    X, X_test = digits.X_train, digits.X_test
    plain = Autoencoder((64, 32, 16), "elu", rng=np.random.default_rng(0))
    denoising = DenoisingAutoencoder((64, 32, 16), "elu", rng=np.random.default_rng(0), noise_level=0.3)
    for model in (plain, denoising):
        model.fit(X, epochs=30, batch_size=32, rng=np.random.default_rng(1), optimizer_kwargs={"lr": 3e-3})
    noisy = denoising.corrupt(X_test, np.random.default_rng(2))
    noisy_error = np.mean((noisy - X_test) ** 2)
    plain_error = np.mean((plain.reconstruct(noisy) - X_test) ** 2)
    denoised_error = np.mean((denoising.reconstruct(noisy) - X_test) ** 2)
    assert denoised_error < 0.5 * noisy_error
    assert denoised_error < 0.7 * plain_error


def test_reconstruction_error_detects_a_digit_never_seen_in_training(digits):
    normal = digits.y_train != 4
    ae = Autoencoder((64, 32, 8), "elu", rng=np.random.default_rng(0))
    ae.fit(digits.X_train[normal], epochs=30, batch_size=32, rng=np.random.default_rng(1),
           optimizer_kwargs={"lr": 3e-3})
    auc = roc_auc(ae.reconstruction_error(digits.X_test), digits.y_test == 4)
    assert auc > 0.95


@pytest.mark.parametrize("seed", range(4))
def test_roc_auc_equals_sklearn_with_and_without_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    labels[:2] = [0, 1]
    scores = rng.normal(size=300) + labels
    if seed % 2:
        scores = np.round(scores, 1)  # many ties
    np.testing.assert_allclose(roc_auc(scores, labels), roc_auc_score(labels, scores), rtol=1e-12)
    assert roc_auc(scores, labels.astype(bool)) == roc_auc(scores, labels)
    assert roc_auc(-scores, labels) == pytest.approx(1 - roc_auc(scores, labels), abs=1e-12)


def test_fit_is_the_loop_of_public_loss_and_optimizer_steps():
    # fit runs the network's unchecked kernels and trusted Adam steps; they must compute what the public
    # calls do, corruption included
    x = np.random.default_rng(5).random((21, 6))
    fitted, by_hand = (DenoisingAutoencoder((6, 4, 2), "tanh", rng=np.random.default_rng(0), noise_level=0.2)
                       for _ in range(2))
    fitted.fit(x, epochs=3, batch_size=8, rng=np.random.default_rng(1), optimizer_kwargs={"lr": 0.05})
    rng, state = np.random.default_rng(1), None
    for _ in range(3):
        for batch, _ in minibatches(x, np.arange(len(x)), 8, rng=rng):
            _, grads = by_hand.loss_and_grads(by_hand.corrupt(batch, rng), batch)
            by_hand.network.params, state = adam_step(by_hand.network.params, grads, state, lr=0.05)
    for name, value in fitted.network.params.items():
        np.testing.assert_array_equal(value, by_hand.network.params[name], err_msg=name)


def test_float32_is_kept():
    x = np.random.default_rng(0).random((8, 5)).astype(np.float32)
    ae = DenoisingAutoencoder((5, 2), rng=np.random.default_rng(1), dtype=np.float32, noise="gaussian",
                              noise_level=0.1)
    ae.fit(x, epochs=2, batch_size=4, rng=np.random.default_rng(2))
    assert all(p.dtype == np.float32 for p in ae.network.params.values())
    assert ae.encode(x).dtype == np.float32 and ae.reconstruct(x).dtype == np.float32
    assert ae.corrupt(x, np.random.default_rng(3)).dtype == np.float32


def test_bad_inputs_are_rejected_with_clear_messages():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"widths must list at least the input size and the code size"):
        Autoencoder((64,), rng=rng)
    with pytest.raises(ValueError, match="loss must be one of 'mse', 'bce_with_logits'; got 'cross_entropy'"):
        Autoencoder((4, 2), rng=rng, loss="cross_entropy")
    with pytest.raises(ValueError, match="noise must be one of 'mask', 'gaussian'; got 'salt'"):
        DenoisingAutoencoder((4, 2), rng=rng, noise="salt")
    with pytest.raises(ValueError, match="noise_level is the probability of masking an input"):
        DenoisingAutoencoder((4, 2), rng=rng, noise_level=1.0)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 4\)"):
        Autoencoder((4, 2), rng=rng).reconstruct(np.zeros((3, 5)))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 4\)"):
        Autoencoder((4, 2), rng=rng).fit(np.zeros((3, 5)), epochs=1, batch_size=2, rng=rng)
    with pytest.raises(ValueError, match="x must not contain NaN or infinite values"):
        DenoisingAutoencoder((4, 2), rng=rng).corrupt(np.full((1, 4), np.inf), rng)
    with pytest.raises(ValueError, match="labels must contain both classes; got 0 positive and 3 negative"):
        roc_auc([0.1, 0.2, 0.3], [0, 0, 0])
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        roc_auc([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="scores and labels must be 1-D of one length"):
        roc_auc([0.1, 0.2], [0, 1, 1])
