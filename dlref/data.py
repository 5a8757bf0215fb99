r"""Toy data sets generated in code, the 8x8 digits, and a minibatch iterator.

Nothing is downloaded: the 2-D toys are drawn from an explicit `rng: numpy.random.Generator`, and the
digits ship with scikit-learn. Inputs are float64 arrays of shape `(n, d)`, labels int64 of shape `(n,)`.
The toys return their examples in random order, so any slice holds every class.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from dlref._checks import as_float_array, check_bool, check_int, check_real, check_rng

__all__ = [
    "xor", "two_moons", "spiral",
    "ring_centres", "ring_of_gaussians",
    "DataSplit", "load_digits",
    "minibatches",
]

# Corners ordered so that their XOR labels alternate: example i sits at corner i % 4, so the classes differ
# in size by at most one.
_XOR_CORNERS = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.0]])
_XOR_LABELS = np.array([0, 1, 0, 1], dtype=np.int64)


def _shuffled(X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return X[order], y[order]


def xor(n, rng, noise=0.1):
    r"""The XOR problem: four Gaussian clusters at the corners of the unit square.

    The corners $(0,0)$ and $(1,1)$ have label 0, $(0,1)$ and $(1,0)$ label 1: $y = c_1 \oplus c_2$ for the
    corner $c$. No line separates the classes, so a perceptron fails and one hidden layer suffices.

    Parameters
    ----------
    n : int
        Number of examples, at least 1; they are spread over the corners in turn, so the two classes
        differ in size by at most one.
    rng : numpy.random.Generator
        The source of randomness.
    noise : float, default 0.1
        Standard deviation of the Gaussian added to each coordinate, non-negative. With 0 every point is a
        corner; from about 0.25 on the clusters start to overlap.

    Returns
    -------
    X : numpy.ndarray
        Points, shape `(n, 2)`, float64, in random order.
    y : numpy.ndarray
        Labels 0 or 1, shape `(n,)`, int64.

    References
    ----------
    Minsky, M. & Papert, S. (1969). *Perceptrons*. MIT Press.

    Examples
    --------
    >>> X, y = xor(6, np.random.default_rng(0), noise=0.0)
    >>> print(X)
    [[0. 1.]
     [0. 0.]
     [1. 1.]
     [0. 1.]
     [1. 0.]
     [0. 0.]]
    >>> print(y)
    [1 0 0 1 1 0]
    """
    n = check_int(n, "n", low=1)
    rng = check_rng(rng)
    noise = check_real(noise, "noise", low=0.0)
    corner = np.arange(n) % 4
    X = _XOR_CORNERS[corner] + noise * rng.standard_normal((n, 2))
    return _shuffled(X, _XOR_LABELS[corner], rng)


def two_moons(n, rng, noise=0.1):
    r"""Two interleaving half circles, the classic non-linearly separable toy.

    Class 0 lies on the upper unit half circle $(\cos t, \sin t)$, class 1 on the lower half circle
    $(1 - \cos t, \tfrac12 - \sin t)$, $t \in [0, \pi]$ evenly spaced; each tip reaches into the other
    moon's hollow.

    Parameters
    ----------
    n : int
        Number of examples, at least 1: $\lceil n/2 \rceil$ of class 0 and $\lfloor n/2 \rfloor$ of class 1.
    rng : numpy.random.Generator
        The source of randomness.
    noise : float, default 0.1
        Standard deviation of the Gaussian added to each coordinate, non-negative.

    Returns
    -------
    X : numpy.ndarray
        Points, shape `(n, 2)`, float64, in random order.
    y : numpy.ndarray
        Labels 0 (upper moon) or 1 (lower moon), shape `(n,)`, int64.

    Examples
    --------
    >>> X, y = two_moons(200, np.random.default_rng(0))
    >>> print(X.shape, np.bincount(y))
    (200, 2) [100 100]
    >>> print(np.round(X[y == 0].mean(axis=0), 2), np.round(X[y == 1].mean(axis=0), 2))
    [-0.01  0.64] [ 0.99 -0.14]
    """
    n = check_int(n, "n", low=1)
    rng = check_rng(rng)
    noise = check_real(noise, "noise", low=0.0)
    n_lower = n // 2
    n_upper = n - n_lower
    t_upper = np.linspace(0.0, math.pi, n_upper)
    t_lower = np.linspace(0.0, math.pi, n_lower)
    upper = np.column_stack([np.cos(t_upper), np.sin(t_upper)])
    lower = np.column_stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)])
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n, 2))
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n_upper, n_lower])
    return _shuffled(X, y, rng)


def spiral(n_per_class, n_classes, rng, noise=0.2):
    r"""Interleaved spiral arms, one per class, as in the cs231n notes (3 classes there).

    Along arm $k$ the radius grows evenly, $r \in [0, 1]$, while the angle sweeps 4 radians,
    $\theta = 4(k + r) + \varepsilon$ with $\varepsilon \sim \mathcal{N}(0, \text{noise}^2)$, and the point
    is $(r \sin\theta, r\cos\theta)$. A linear classifier reaches about 50% on 3 classes; a small MLP
    separates them.

    Parameters
    ----------
    n_per_class : int
        Points per arm, at least 1.
    n_classes : int
        Number of arms (classes), at least 1. Arm $k$ starts at angle $4k$ radians, as in the notes, so
        the arms are evenly spread only for 3 classes (12 radians, almost two turns).
    rng : numpy.random.Generator
        The source of randomness.
    noise : float, default 0.2
        Standard deviation of the angle noise in radians, non-negative; the radius has none.

    Returns
    -------
    X : numpy.ndarray
        Points in the unit disc, shape `(n_per_class * n_classes, 2)`, float64, in random order.
    y : numpy.ndarray
        Labels `0 .. n_classes - 1`, shape `(n_per_class * n_classes,)`, int64.

    References
    ----------
    Karpathy, A. et al. CS231n: Convolutional Neural Networks for Visual Recognition, "Putting it together:
    minimal neural network case study". https://cs231n.github.io/neural-networks-case-study/

    Examples
    --------
    >>> X, y = spiral(100, 3, np.random.default_rng(0))
    >>> print(X.shape, np.bincount(y), bool(np.linalg.norm(X, axis=1).max() <= 1.0))
    (300, 2) [100 100 100] True
    """
    n_per_class = check_int(n_per_class, "n_per_class", low=1)
    n_classes = check_int(n_classes, "n_classes", low=1)
    rng = check_rng(rng)
    noise = check_real(noise, "noise", low=0.0)
    r = np.tile(np.linspace(0.0, 1.0, n_per_class), n_classes)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    theta = 4.0 * (y + r) + noise * rng.standard_normal(y.size)
    X = np.column_stack([r * np.sin(theta), r * np.cos(theta)])
    return _shuffled(X, y, rng)


def ring_centres(n_modes=8, radius=2.0):
    r"""Centres of the modes of [`ring_of_gaussians`][dlref.data.ring_of_gaussians].

    Mode $k$ sits at $\rho\,(\cos(2\pi k/K), \sin(2\pi k/K))$ for $K$ = `n_modes`, $\rho$ = `radius`.

    Parameters
    ----------
    n_modes : int, default 8
        Number of modes $K$, at least 1.
    radius : float, default 2.0
        Radius $\rho$ of the ring, positive.

    Returns
    -------
    numpy.ndarray
        Shape `(n_modes, 2)`, float64.

    Examples
    --------
    >>> print(np.round(ring_centres(4, 1.0), 6) + 0.0)  # + 0.0 turns -0. into 0.
    [[ 1.  0.]
     [ 0.  1.]
     [-1.  0.]
     [ 0. -1.]]
    """
    n_modes = check_int(n_modes, "n_modes", low=1)
    radius = check_real(radius, "radius", low=0.0, low_inclusive=False)
    angles = 2.0 * math.pi * np.arange(n_modes) / n_modes
    return radius * np.column_stack([np.cos(angles), np.sin(angles)])


def ring_of_gaussians(n, rng, n_modes=8, radius=2.0, std=0.02):
    r"""Samples of a mixture of equally weighted Gaussians on a ring: the GAN mode-collapse benchmark.

    Each sample picks a mode $k$ uniformly at random and adds isotropic noise,
    $x = \mu_k + \sigma\varepsilon$, $\varepsilon \sim \mathcal{N}(0, I_2)$, with the centres $\mu_k$ of
    [`ring_centres`][dlref.data.ring_centres]. A generator that covers only some of the modes has
    collapsed, which a scatter plot shows at a glance.

    Parameters
    ----------
    n : int
        Number of samples, at least 1.
    rng : numpy.random.Generator
        The source of randomness.
    n_modes : int, default 8
        Number of modes, at least 1.
    radius : float, default 2.0
        Radius of the ring, positive.
    std : float, default 0.02
        Standard deviation $\sigma$ of each mode, per coordinate, non-negative.

    Returns
    -------
    numpy.ndarray
        Samples, shape `(n, 2)`, float64. There are no labels; the modes are unsupervised structure.

    References
    ----------
    Metz, L., Poole, B., Pfau, D. & Sohl-Dickstein, J. (2017). Unrolled generative adversarial networks.
    ICLR.

    Examples
    --------
    >>> X = ring_of_gaussians(1000, np.random.default_rng(0))
    >>> distance = np.linalg.norm(X[:, None, :] - ring_centres()[None], axis=2).min(axis=1)
    >>> # The distance of a 2-D isotropic Gaussian sample from its mean has mean std * sqrt(pi / 2).
    >>> print(X.shape, f"mean distance {distance.mean():.4f}, expected {0.02 * math.sqrt(math.pi / 2):.4f}")
    (1000, 2) mean distance 0.0251, expected 0.0251
    """
    n = check_int(n, "n", low=1)
    rng = check_rng(rng)
    centres = ring_centres(n_modes, radius)
    std = check_real(std, "std", low=0.0)
    mode = rng.integers(len(centres), size=n)
    return centres[mode] + std * rng.standard_normal((n, 2))


@dataclass(frozen=True)
class DataSplit:
    r"""A train/test split of a labelled data set.

    Attributes
    ----------
    X_train : numpy.ndarray
        Training inputs, shape `(n_train, d)`, float64.
    y_train : numpy.ndarray
        Training labels, shape `(n_train,)`, int64.
    X_test : numpy.ndarray
        Test inputs, shape `(n_test, d)`, float64.
    y_test : numpy.ndarray
        Test labels, shape `(n_test,)`, int64.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def load_digits(test_fraction=0.25, seed=0):
    r"""scikit-learn's 8x8 handwritten digits, scaled to $[0, 1]$, with a fixed stratified split.

    1797 images of the digits 0-9 (about 180 each), each 64 pixels whose values count the set pixels of a
    4x4 block of a 32x32 bitmap (0 to 16). The data ship inside scikit-learn, so nothing is downloaded;
    scikit-learn is imported only when this function runs.

    Parameters
    ----------
    test_fraction : float, default 0.25
        Share of each class held out for testing, in $(0, 1)$.
    seed : int, default 0
        Seed of the split, non-negative. The same seed gives the same split on every machine.

    Returns
    -------
    DataSplit
        `X_*` of shape `(n, 64)`, float64 in $[0, 1]$ (pixel / 16), row-major 8x8 images; `y_*` int64
        labels 0-9. Train and test are disjoint and together hold all 1797 images.

    Raises
    ------
    ImportError
        If scikit-learn is not installed.

    Notes
    -----
    Stratified: each class contributes `round(test_fraction * n_class)` images to the test set (but at
    least one, and at least one to the training set), so every class's test share is within one image of
    `test_fraction`. The split is drawn with numpy from `seed`, not with scikit-learn's splitter, so it
    does not change with scikit-learn's version. Both parts are shuffled.

    References
    ----------
    Alpaydin, E. & Kaynak, C. (1998). Optical Recognition of Handwritten Digits. UCI Machine Learning
    Repository. https://doi.org/10.24432/C50P49

    Examples
    --------
    >>> split = load_digits()
    >>> print(split.X_train.shape, split.X_test.shape, split.y_train.dtype)
    (1347, 64) (450, 64) int64
    >>> print(np.bincount(split.y_test))
    [44 46 44 46 45 46 45 45 44 45]
    """
    test_fraction = check_real(test_fraction, "test_fraction")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), the share of each class held out for testing; "
                         f"got {test_fraction}.")
    seed = check_int(seed, "seed", low=0)
    try:
        from sklearn.datasets import load_digits as sklearn_load_digits
    except ImportError:
        raise ImportError("load_digits needs scikit-learn, which ships the 8x8 digits; install it with "
                          "pip install scikit-learn (or pip install 'dlref[docs]').") from None
    digits = sklearn_load_digits()
    X = digits.data / 16.0
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    train_parts, test_parts = [], []
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        # Keep every class on both sides even for an extreme test_fraction.
        n_test = min(max(round(test_fraction * members.size), 1), members.size - 1)
        test_parts.append(members[:n_test])
        train_parts.append(members[n_test:])
    train = rng.permutation(np.concatenate(train_parts))
    test = rng.permutation(np.concatenate(test_parts))
    return DataSplit(X_train=X[train], y_train=y[train], X_test=X[test], y_test=y[test])


def _batches(X, y, order, batch_size, drop_last) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    stop = len(order) - len(order) % batch_size if drop_last else len(order)
    for start in range(0, stop, batch_size):
        batch = order[start:start + batch_size]
        yield X[batch], y[batch]


def minibatches(X, y, batch_size, rng=None, shuffle=True, drop_last=False):
    r"""One epoch of minibatches `(X_batch, y_batch)`: every example exactly once.

    Arguments are checked when this function is called, not when the first batch is drawn; the order is
    drawn from `rng` at that moment too.

    Parameters
    ----------
    X : array_like
        Inputs, examples along axis 0, shape `(N, ...)`; float32 and float64 keep their dtype.
    y : array_like
        Targets with one entry per example, shape `(N, ...)`; labels or regression targets, dtype kept.
    batch_size : int
        Examples per batch $B$, at least 1.
    rng : numpy.random.Generator, optional
        Needed when `shuffle` is true; ignored otherwise.
    shuffle : bool, default True
        Visit the examples in a random permutation (a new one at every call, so once per epoch) rather
        than in order.
    drop_last : bool, default False
        Drop the last batch when it has fewer than $B$ examples, so every batch has exactly $B$.

    Returns
    -------
    generator of (numpy.ndarray, numpy.ndarray)
        $\lceil N/B \rceil$ batches, or $\lfloor N/B \rfloor$ with `drop_last`. Each batch is a copy; all
        but possibly the last have $B$ examples.

    Raises
    ------
    ValueError
        If `X` has no axis 0, or `y` does not have one entry per example, or `batch_size < 1`.
    TypeError
        If `shuffle` is true and `rng` is not a `numpy.random.Generator`, or a flag is not a bool.

    Notes
    -----
    Shuffling every epoch makes each minibatch gradient an unbiased estimate of the full gradient, and
    sampling without replacement visits every example once per epoch, which has lower variance than
    drawing batches independently.

    Examples
    --------
    >>> X, y = np.arange(10.0).reshape(5, 2), np.arange(5)
    >>> for X_batch, y_batch in minibatches(X, y, batch_size=2, shuffle=False):
    ...     print(X_batch.shape, y_batch)
    (2, 2) [0 1]
    (2, 2) [2 3]
    (1, 2) [4]
    >>> print([y_batch for _, y_batch in minibatches(X, y, 2, rng=np.random.default_rng(0), drop_last=True)])
    [array([2, 4]), array([3, 0])]
    """
    X = as_float_array(X, "X")
    y = np.asarray(y)
    if X.ndim == 0:
        raise ValueError("X must have at least one dimension, the examples along axis 0; got a 0-d array "
                         "(a scalar). Wrap a single example with X[None].")
    if y.ndim == 0 or len(y) != len(X):
        raise ValueError(f"y must have one entry per example of X, {len(X)} along axis 0; got shape "
                         f"{y.shape}. Pass the targets that belong to X, in the same order.")
    batch_size = check_int(batch_size, "batch_size", low=1)
    shuffle = check_bool(shuffle, "shuffle")
    drop_last = check_bool(drop_last, "drop_last")
    if shuffle:
        if rng is None:
            raise TypeError("shuffle=True needs rng, a numpy.random.Generator; got None. Pass "
                            "rng=np.random.default_rng(seed), or shuffle=False to keep the order of X.")
        order = check_rng(rng).permutation(len(X))
    else:
        order = np.arange(len(X))
    return _batches(X, y, order, batch_size, drop_last)
