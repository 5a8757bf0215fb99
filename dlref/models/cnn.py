r"""A small convolutional network composed from `dlref.conv`, `dlref.layers`, `dlref.activations`,
`dlref.losses` and `dlref.optim`.

The network is a stack of blocks, each a "same" convolution, ReLU and max pooling, followed by a linear
classifier on the flattened feature maps, the pattern of LeNet and of the first layers of VGG. Parameters
are laid out as torch lays them out (`conv1_W` of shape `(C_out, C_in, k, k)` as `torch.nn.Conv2d.weight`,
`fc_W` of shape `(n_classes, features)` as `torch.nn.Linear.weight`), so the same weights can be copied
into a `torch.nn.Sequential` of `Conv2d`, `ReLU`, `MaxPool2d`, `Flatten` and `Linear`. All of the maths
lives in the modules it calls; this class only wires them together.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from dlref._checks import as_float_array, check_int, check_rng
from dlref.activations import relu, relu_backward
from dlref.conv import (Conv2dCache, MaxPool2dCache, conv2d_backward, conv2d_forward, conv2d_output_shape,
                        max_pool2d_backward, max_pool2d_forward)
from dlref.data import minibatches
from dlref.init import uniform
from dlref.layers import linear_backward, linear_forward
from dlref.losses import cross_entropy, cross_entropy_backward
from dlref.optim import adam_step

__all__ = ["CNN", "CNNCache"]


@dataclass(frozen=True)
class CNNCache:
    """What [`CNN.backward`][dlref.models.cnn.CNN.backward] needs from the forward pass, block by block.

    `feature_maps[l]` is the output of block `l + 1`'s ReLU, shape `(N, channels[l], H_l, W_l)`, before
    pooling: the maps a page plots to show what the network detects. `features` is the flattened input
    of the classifier.
    """

    conv_caches: tuple[Conv2dCache, ...]
    pre_activations: tuple[np.ndarray, ...]
    feature_maps: tuple[np.ndarray, ...]
    pool_caches: tuple[MaxPool2dCache, ...]
    features: np.ndarray


class CNN:
    r"""Convolutional classifier: blocks of convolution, ReLU and max pooling, then a linear layer.

    Block $l$ computes $a_l = \mathrm{maxpool}(\mathrm{ReLU}(W_l \star a_{l-1} + b_l))$ with a
    $k \times k$ kernel and padding $\lfloor k/2 \rfloor$ (the convolution keeps the height and width for
    odd $k$; the pooling divides them by `pool_size`, rounding down). The logits are
    $a_L$ flattened, times $W_\text{fc}^\top$, plus $b_\text{fc}$.

    Parameters
    ----------
    input_shape : tuple of int
        `(C, H, W)` of one input image, e.g. `(1, 8, 8)` for the 8x8 digits.
    channels : sequence of int
        Output channels of each convolution block, e.g. `(16, 32)`; at least one block.
    n_classes : int
        Number of classes (outputs of the linear layer), at least 2.
    rng : numpy.random.Generator
        Draws the initial weights.
    kernel_size : int, default 3
        Odd side $k$ of the square kernels.
    pool_size : int, default 2
        Side and stride of the max-pooling windows; 1 means no pooling.
    dtype : numpy dtype, default float64

    Raises
    ------
    ValueError
        If a size is out of range, or pooling would shrink the feature maps to nothing.
    TypeError
        If a size is not an int, or `rng` is not a `numpy.random.Generator`.

    Notes
    -----
    Weights and biases are drawn as `torch.nn.Conv2d` and `torch.nn.Linear` draw them,
    $U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})$, with fan-in $C_\text{in} k^2$ for a
    convolution. A convolution block has $C_\text{out}(C_\text{in} k^2 + 1)$ parameters whatever the
    image size; only the linear layer's count grows with the size of the last feature maps.

    Examples
    --------
    >>> import numpy as np
    >>> model = CNN((1, 8, 8), (4, 8), 10, rng=np.random.default_rng(0))
    >>> for name, p in model.params.items():
    ...     print(name, p.shape)
    conv1_W (4, 1, 3, 3)
    conv1_b (4,)
    conv2_W (8, 4, 3, 3)
    conv2_b (8,)
    fc_W (10, 32)
    fc_b (10,)
    >>> model.forward(np.zeros((5, 1, 8, 8)))[0].shape
    (5, 10)
    """

    def __init__(self, input_shape, channels, n_classes, *, rng, kernel_size=3, pool_size=2, dtype=np.float64):
        if not isinstance(input_shape, tuple) or len(input_shape) != 3:
            raise ValueError(f"input_shape must be the (C, H, W) of one image, e.g. (1, 8, 8); got "
                             f"{input_shape!r}.")
        self.input_shape = tuple(check_int(s, "each entry of input_shape", low=1) for s in input_shape)
        self.channels = tuple(check_int(c, "each entry of channels", low=1) for c in channels)
        if not self.channels:
            raise ValueError("channels must list at least one convolution block, e.g. (16, 32); got ().")
        self.n_classes = check_int(n_classes, "n_classes", low=2)
        self.kernel_size = check_int(kernel_size, "kernel_size", low=1)
        if self.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, so that padding kernel_size // 2 keeps the height and "
                             f"width; got {self.kernel_size}. Use 3 or 5.")
        self.pool_size = check_int(pool_size, "pool_size", low=1)
        check_rng(rng)

        self.params: dict[str, np.ndarray] = {}
        c_in, (height, width) = self.input_shape[0], self.input_shape[1:]
        k = self.kernel_size
        for block, c_out in enumerate(self.channels, start=1):
            if height < self.pool_size or width < self.pool_size:
                raise ValueError(f"block {block} receives {height}x{width} feature maps, smaller than the "
                                 f"{self.pool_size}x{self.pool_size} pooling window: use fewer blocks, a "
                                 f"smaller pool_size, or larger images.")
            self._init_layer(f"conv{block}", (c_out, c_in, k, k), rng, dtype)
            height, width = conv2d_output_shape((height, width), self.pool_size, self.pool_size)
            c_in = c_out
        self._init_layer("fc", (self.n_classes, c_in * height * width), rng, dtype)

    def _init_layer(self, name: str, shape: tuple[int, ...], rng: np.random.Generator, dtype) -> None:
        bound = 1.0 / math.sqrt(math.prod(shape[1:]))
        self.params[f"{name}_W"] = uniform(shape, rng=rng, a=-bound, b=bound, dtype=dtype)
        self.params[f"{name}_b"] = uniform((shape[0],), rng=rng, a=-bound, b=bound, dtype=dtype)

    def n_parameters(self) -> int:
        """Total number of weights and biases."""
        return sum(p.size for p in self.params.values())

    def forward(self, x) -> tuple[np.ndarray, CNNCache]:
        """Logits `(N, n_classes)` for images `x` of shape `(N, *input_shape)`, and the cache for backward."""
        a = as_float_array(x, "x")
        if a.ndim != 4 or a.shape[1:] != self.input_shape:
            hint = (f" Reshape flat rows with x.reshape(-1, {', '.join(map(str, self.input_shape))})."
                    if a.ndim == 2 and a.shape[1] == math.prod(self.input_shape) else "")
            raise ValueError(f"x must have shape (N, {', '.join(map(str, self.input_shape))}); got "
                             f"{a.shape}.{hint}")
        conv_caches, pre_activations, feature_maps, pool_caches = [], [], [], []
        for block in range(1, len(self.channels) + 1):
            z, conv_cache = conv2d_forward(a, self.params[f"conv{block}_W"], self.params[f"conv{block}_b"],
                                           padding=self.kernel_size // 2)
            feature_map = relu(z)
            a, pool_cache = max_pool2d_forward(feature_map, self.pool_size)
            conv_caches.append(conv_cache)
            pre_activations.append(z)
            feature_maps.append(feature_map)
            pool_caches.append(pool_cache)
        features = a.reshape(len(a), -1)
        logits = linear_forward(features, self.params["fc_W"], self.params["fc_b"])
        return logits, CNNCache(tuple(conv_caches), tuple(pre_activations), tuple(feature_maps),
                                tuple(pool_caches), features)

    def backward(self, dlogits, cache: CNNCache) -> dict[str, np.ndarray]:
        """Gradients of the loss for every parameter, given `dlogits` = dL/d(logits); same keys as `params`."""
        grads: dict[str, np.ndarray] = {}
        dfeatures, grads["fc_W"], grads["fc_b"] = linear_backward(dlogits, cache.features, self.params["fc_W"])
        da = dfeatures.reshape(cache.pool_caches[-1].argmax.shape)
        for block in range(len(self.channels), 0, -1):
            dfeature_map = max_pool2d_backward(da, cache.pool_caches[block - 1])
            dz = relu_backward(dfeature_map, cache.pre_activations[block - 1])
            da, grads[f"conv{block}_W"], grads[f"conv{block}_b"] = conv2d_backward(dz, cache.conv_caches[block - 1])
        return {name: grads[name] for name in self.params}

    def loss_and_grads(self, x, y) -> tuple[float, dict[str, np.ndarray]]:
        """Mean cross-entropy on `(x, y)` and its gradients: one forward and one backward pass."""
        loss, grads, _ = self._loss_grads_and_logits(x, y)
        return loss, grads

    def _loss_grads_and_logits(self, x, y) -> tuple[float, dict[str, np.ndarray], np.ndarray]:
        logits, cache = self.forward(x)
        return float(cross_entropy(logits, y)), self.backward(cross_entropy_backward(logits, y), cache), logits

    def predict(self, x) -> np.ndarray:
        """Predicted class index of each image."""
        return self.forward(x)[0].argmax(axis=1)

    def accuracy(self, x, y) -> float:
        """Fraction of images whose predicted class equals `y`."""
        return float(np.mean(self.predict(x) == np.asarray(y)))

    def fit(self, x, y, *, epochs, batch_size, rng, optimizer=adam_step, optimizer_kwargs=None,
            validation=None) -> dict[str, list[float]]:
        """Train with mini-batches on the cross-entropy; returns the per-epoch history.

        Parameters
        ----------
        x : numpy.ndarray, shape (N, *input_shape)
            Training images.
        y : numpy.ndarray of int, shape (N,)
            Class indices.
        epochs, batch_size : int
            Passes over the data and examples per update.
        rng : numpy.random.Generator
            Shuffles the data each epoch.
        optimizer : callable, default [`adam_step`][dlref.optim.adam_step]
            Any `dlref.optim` step function, `params, state = optimizer(params, grads, state, **kwargs)`.
        optimizer_kwargs : dict, optional
            Its hyperparameters, e.g. `{"lr": 1e-3}`.
        validation : tuple (x_val, y_val), optional
            Evaluated after every epoch.

        Returns
        -------
        dict of str to list of float
            The keys of [`MLP.fit`][dlref.models.mlp.MLP.fit]: `loss` (mean training loss over the epoch's
            batches), `train_accuracy`, `seconds` (wall time of the epoch's updates), and `val_loss`,
            `val_accuracy` when `validation` is given. Unlike `MLP.fit`, `train_accuracy` is counted
            from the forward passes of the epoch's updates, as Keras reports it, instead of a second pass
            over `x` (a convolution's forward pass costs far more than a dense layer's): it lags the
            accuracy at the end of the epoch, since the weights change during the epoch.
        """
        epochs = check_int(epochs, "epochs", low=0)
        kwargs = dict(optimizer_kwargs or {})
        history: dict[str, list[float]] = {"loss": [], "train_accuracy": [], "seconds": []}
        state = None
        for _ in range(epochs):
            start, batch_losses, correct = time.perf_counter(), [], 0
            for xb, yb in minibatches(x, y, batch_size, rng=rng):
                value, grads, logits = self._loss_grads_and_logits(xb, yb)
                self.params, state = optimizer(self.params, grads, state, **kwargs)
                batch_losses.append(value)
                correct += int(np.sum(logits.argmax(axis=1) == yb))
            history["seconds"].append(time.perf_counter() - start)
            history["loss"].append(float(np.mean(batch_losses)))
            history["train_accuracy"].append(correct / len(y))
            if validation is not None:
                x_val, y_val = validation
                history.setdefault("val_loss", []).append(float(cross_entropy(self.forward(x_val)[0], y_val)))
                history.setdefault("val_accuracy", []).append(self.accuracy(x_val, y_val))
        return history
