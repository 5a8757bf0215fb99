"""dlref.models.CNN: gradients against torch and finite differences, and the learning check on the digits."""

import numpy as np
import pytest
import torch

from dlref.data import load_digits
from dlref.gradcheck import numerical_gradients, relative_error
from dlref.models import CNN


def _torch_copy(model: CNN) -> torch.nn.Sequential:
    layers = []
    c_in = model.input_shape[0]
    for block, c_out in enumerate(model.channels, start=1):
        conv = torch.nn.Conv2d(c_in, c_out, model.kernel_size, padding=model.kernel_size // 2,
                               dtype=torch.float64)
        with torch.no_grad():
            conv.weight.copy_(torch.tensor(model.params[f"conv{block}_W"]))
            conv.bias.copy_(torch.tensor(model.params[f"conv{block}_b"]))
        layers += [conv, torch.nn.ReLU(), torch.nn.MaxPool2d(model.pool_size)]
        c_in = c_out
    fc_W = model.params["fc_W"]
    fc = torch.nn.Linear(fc_W.shape[1], fc_W.shape[0], dtype=torch.float64)
    with torch.no_grad():
        fc.weight.copy_(torch.tensor(fc_W))
        fc.bias.copy_(torch.tensor(model.params["fc_b"]))
    return torch.nn.Sequential(*layers, torch.nn.Flatten(), fc)


@pytest.mark.parametrize("input_shape, channels, kernel_size, pool_size", [
    ((1, 8, 8), (4, 6), 3, 2),
    ((3, 9, 7), (5,), 5, 3),
    ((2, 6, 6), (3, 4, 2), 1, 1),
    ((1, 8, 8), (2, 3, 5), 3, 2),  # 2x2 maps into the last block: fewer output positions than channels
])
def test_loss_and_gradients_match_torch(input_shape, channels, kernel_size, pool_size):
    rng = np.random.default_rng(sum(channels))
    model = CNN(input_shape, channels, 4, rng=rng, kernel_size=kernel_size, pool_size=pool_size)
    x = rng.normal(size=(5, *input_shape))
    y = rng.integers(0, 4, size=5)

    net = _torch_copy(model)
    loss_torch = torch.nn.functional.cross_entropy(net(torch.tensor(x)), torch.tensor(y))
    loss_torch.backward()
    loss, grads = model.loss_and_grads(x, y)

    np.testing.assert_allclose(loss, loss_torch.item(), rtol=1e-10)
    torch_grads = [p.grad.numpy() for p in net.parameters()]
    assert list(grads) == list(model.params)
    for name, mine, theirs in zip(grads, grads.values(), torch_grads, strict=True):
        assert mine.shape == theirs.shape, name
        np.testing.assert_allclose(mine, theirs, rtol=1e-8, atol=1e-10, err_msg=name)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(3)
    model = CNN((2, 6, 5), (3, 4), 3, rng=rng)
    x = rng.normal(size=(4, 2, 6, 5))
    y = np.array([0, 2, 1, 2])

    def mean_loss(params):
        model.params = params
        return np.array(model.loss_and_grads(x, y)[0])

    _, analytic = model.loss_and_grads(x, y)
    numeric = numerical_gradients(mean_loss, dict(model.params), np.array(1.0))
    for name in analytic:
        assert relative_error(analytic[name], numeric[name]) < 1e-7, name


def test_parameter_count_and_float32():
    model = CNN((1, 8, 8), (16, 32), 10, rng=np.random.default_rng(0), dtype=np.float32)
    conv1, conv2, fc = 16 * (1 * 9 + 1), 32 * (16 * 9 + 1), 10 * (32 * 2 * 2 + 1)
    assert model.n_parameters() == conv1 + conv2 + fc
    assert all(p.dtype == np.float32 for p in model.params.values())
    logits, cache = model.forward(np.ones((2, 1, 8, 8), dtype=np.float32))
    assert logits.dtype == np.float32
    assert [f.shape for f in cache.feature_maps] == [(2, 16, 8, 8), (2, 32, 4, 4)]


def test_digits_cnn_reaches_0985_test_accuracy():
    # Three blocks take the 8x8 digits down to 1x1. Test accuracy varies with the seed by about one
    # standard error (0.006 for 450 images near 0.985); this seed's run settles well above the bar.
    digits = load_digits()
    mean, std = digits.X_train.mean(axis=0), digits.X_train.std(axis=0)
    std[std == 0] = 1.0
    x_train, x_test = (((x - mean) / std).reshape(-1, 1, 8, 8) for x in (digits.X_train, digits.X_test))
    model = CNN((1, 8, 8), (32, 64, 128), 10, rng=np.random.default_rng(0))
    untrained_loss, _ = model.loss_and_grads(x_train, digits.y_train)
    history = model.fit(x_train, digits.y_train, epochs=10, batch_size=32, rng=np.random.default_rng(1),
                        optimizer_kwargs={"lr": 3e-3}, validation=(x_test, digits.y_test))
    assert abs(untrained_loss - np.log(10)) < 0.2
    assert history["loss"][-1] < 0.1 * history["loss"][0]
    assert model.accuracy(x_test, digits.y_test) >= 0.985
    assert history["val_accuracy"][-1] == model.accuracy(x_test, digits.y_test)


def test_train_accuracy_counts_the_epochs_forward_passes():
    # With a learning rate of 0 the weights never move, so the accuracy counted during the epoch must equal
    # the accuracy of the network on the whole training set.
    rng = np.random.default_rng(5)
    model = CNN((1, 6, 6), (3,), 3, rng=rng)
    x, y = rng.normal(size=(50, 1, 6, 6)), rng.integers(0, 3, size=50)
    history = model.fit(x, y, epochs=2, batch_size=8, rng=rng, optimizer_kwargs={"lr": 0.0})
    assert history["train_accuracy"] == [model.accuracy(x, y)] * 2
    assert sorted(history) == ["loss", "seconds", "train_accuracy"]


def test_bad_construction_and_inputs_are_rejected():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"input_shape must be the \(C, H, W\) of one image, e\.g\. \(1, 8, 8\); "
                                         r"got \(8, 8\)"):
        CNN((8, 8), (4,), 10, rng=rng)
    with pytest.raises(ValueError, match=r"channels must list at least one convolution block"):
        CNN((1, 8, 8), (), 10, rng=rng)
    with pytest.raises(ValueError, match=r"kernel_size must be odd.*got 4"):
        CNN((1, 8, 8), (4,), 10, rng=rng, kernel_size=4)
    with pytest.raises(ValueError, match=r"n_classes must be an int >= 2; got 1"):
        CNN((1, 8, 8), (4,), 1, rng=rng)
    with pytest.raises(ValueError, match=r"block 3 receives 1x1 feature maps, smaller than the 2x2 pooling "
                                         r"window"):
        CNN((1, 4, 4), (2, 2, 2), 10, rng=rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        CNN((1, 8, 8), (4,), 10, rng=0)
    model = CNN((1, 8, 8), (4,), 10, rng=rng)
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 8, 8\); got \(3, 64\)\. Reshape flat rows "
                                         r"with x\.reshape\(-1, 1, 8, 8\)"):
        model.forward(np.ones((3, 64)))
    with pytest.raises(ValueError, match=r"x must have shape \(N, 1, 8, 8\); got \(3, 1, 8, 7\)\.$"):
        model.forward(np.ones((3, 1, 8, 7)))
