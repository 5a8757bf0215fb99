r"""A generative adversarial network: two [`MLP`][dlref.models.mlp.MLP]s, binary cross-entropy and Adam.

The generator $G$ maps noise $z \sim \mathcal{N}(0, I)$ to a sample $G(z)$; the discriminator $D$ maps a
sample to a logit, the score that it is real. [`gan_step`][dlref.models.gan.gan_step] is one training
step as a pure function (one update of $D$, then one of $G$), laid out as the usual PyTorch loop so that
the same weights give the same step in both; [`GAN`][dlref.models.gan.GAN] keeps the two networks and
their optimizer states and runs the loop; [`mode_coverage`][dlref.models.gan.mode_coverage] scores
samples of a mixture with known modes, such as [`ring_of_gaussians`][dlref.data.ring_of_gaussians].
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dlref._checks import as_float_array, check_int, check_real, check_rng
from dlref.losses import binary_cross_entropy_with_logits, binary_cross_entropy_with_logits_backward
from dlref.models.mlp import MLP
from dlref.optim import _trusted_inputs, adam_step

__all__ = ["GAN", "GANStep", "gan_step", "ModeCoverage", "mode_coverage"]


@dataclass(frozen=True)
class GANStep:
    """What one [`gan_step`][dlref.models.gan.gan_step] returns.

    `*_params` and `*_state` are the networks' new parameters and Adam states (pass the states to the
    next step); the losses are those the two updates descended, evaluated before each update.
    """

    generator_params: dict[str, np.ndarray]
    discriminator_params: dict[str, np.ndarray]
    generator_state: dict
    discriminator_state: dict
    discriminator_loss: float
    generator_loss: float


def _with_params(model: MLP, params: dict[str, np.ndarray]) -> MLP:
    """The same architecture with other parameters; `model` itself is left as it was."""
    other = copy.copy(model)
    other.params = params
    return other


def _check_networks(generator, discriminator) -> None:
    for name, model in (("generator", generator), ("discriminator", discriminator)):
        if not isinstance(model, MLP):
            raise TypeError(f"{name} must be a dlref.models.MLP; got {type(model).__name__}.")
        if model.dropout or model.batch_norm:
            raise ValueError(f"{name} must be an MLP without dropout and batch normalisation (got dropout="
                             f"{model.dropout}, batch_norm={model.batch_norm}): gan_step runs both networks "
                             f"in evaluation mode and back-propagates through linear layers and "
                             f"activations only.")
    if generator.widths[-1] != discriminator.widths[0]:
        raise ValueError(f"the generator's output width, {generator.widths[-1]} (widths {generator.widths}), "
                         f"must equal the discriminator's input width, {discriminator.widths[0]} (widths "
                         f"{discriminator.widths}): the discriminator scores the generator's samples.")
    if discriminator.widths[-1] != 1:
        raise ValueError(f"the discriminator must output one logit per sample (last width 1); got widths "
                         f"{discriminator.widths}.")


def _check_batch(x, name: str, width: int, what: str) -> np.ndarray:
    x = as_float_array(x, name, allow_inf=False)
    if x.ndim != 2 or x.shape[1] != width or x.shape[0] == 0:
        raise ValueError(f"{name} must have shape (N, {width}) with N >= 1, one {what} per row; got "
                         f"{x.shape}.")
    return x


def gan_step(generator, discriminator, x_real, z, generator_state=None, discriminator_state=None, *,
             generator_lr=2e-4, discriminator_lr=2e-4, betas=(0.5, 0.999)):
    r"""One GAN training step: an Adam update of the discriminator, then one of the generator.

    With real samples $x_1..x_N$, noise $z_1..z_M$, fakes $\tilde x_m = G(z_m)$ and $\ell(s, y)$ the
    binary cross-entropy of logit $s$ against label $y$ (averaged over the batch):

    1. the discriminator descends $L_D = \ell(D(x), 1) + \ell(D(\tilde x), 0)$, real against fake, with
       the fakes held fixed;
    2. the generator descends the **non-saturating** loss $L_G = \ell(D'(\tilde x), 1) =
       -\frac1M\sum_m \log \sigma(D'(\tilde x_m))$, scored by the updated discriminator $D'$, on the same
       noise.

    Parameters
    ----------
    generator : MLP
        $G$, widths `(noise_dim, ..., data_dim)`.
    discriminator : MLP
        $D$, widths `(data_dim, ..., 1)`: one logit per sample.
    x_real : array_like, shape (N, data_dim)
        A batch of training data.
    z : array_like, shape (M, noise_dim)
        The noise of this step, usually standard normal.
    generator_state, discriminator_state : dict or None
        Adam states returned by the previous step (`None` on the first step).
    generator_lr, discriminator_lr : float, default 2e-4
        Adam learning rates, non-negative; DCGAN's 2e-4 by default. The small networks of the GAN page
        train on the ring of Gaussians with 2e-3.
    betas : tuple of two floats, default (0.5, 0.999)
        Adam's $(\beta_1, \beta_2)$ for both networks; $\beta_1 = 0.5$ as in DCGAN (torch's default is 0.9).

    Returns
    -------
    GANStep
        New parameters and optimizer states of both networks, and the two losses. The networks passed
        in are not modified.

    Raises
    ------
    TypeError
        If a network is not an `MLP`.
    ValueError
        If the widths do not fit together, a network has dropout or batch normalisation, or a batch has
        the wrong shape or a NaN/infinite value.

    Notes
    -----
    $D$'s loss gradient at its logits is $\frac1N(\sigma(s) - 1)$ on the real rows and
    $\frac1M\sigma(s)$ on the fake rows; one backward pass through $D$ on the stacked batch gives its
    parameter gradients. For $G$ the gradient flows through $D'$ to its input,
    $\partial L_G/\partial \tilde x$, and then through $G$ by [`MLP.backward`][dlref.models.mlp.MLP.backward].

    The minimax loss $\log(1 - \sigma(D(\tilde x)))$ that the game is defined with saturates: while $D$
    easily rejects the fakes, $\sigma(s) \approx 0$ and its gradient $-\sigma(s)$ vanishes. The
    non-saturating loss has the same fixed point and gradient $\sigma(s) - 1 \approx -1$ there
    (Goodfellow et al. 2014, section 3).

    In PyTorch this is: `loss_d = bce(D(x), 1) + bce(D(fake.detach()), 0)`, backward, `opt_d.step()`;
    then `loss_g = bce(D(fake), 1)`, backward, `opt_g.step()`, with `fake = G(z)` computed once.

    References
    ----------
    Goodfellow, I. et al. (2014). Generative adversarial nets. NeurIPS.
    Radford, A., Metz, L. & Chintala, S. (2016). Unsupervised representation learning with deep
    convolutional generative adversarial networks. ICLR.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> G, D = MLP((2, 8, 2), rng=rng), MLP((2, 8, 1), rng=rng)
    >>> step = gan_step(G, D, rng.normal(size=(16, 2)), rng.normal(size=(16, 2)))
    >>> print(f"L_D = {step.discriminator_loss:.4f}, L_G = {step.generator_loss:.4f}")
    L_D = 1.3721, L_G = 0.6227
    >>> print(step.generator_params["W1"].shape, step.discriminator_state["step"])
    (8, 2) 1
    """
    _check_networks(generator, discriminator)
    x_real = _check_batch(x_real, "x_real", discriminator.widths[0], "sample")
    z = _check_batch(z, "z", generator.widths[0], "noise vector")
    generator_lr = check_real(generator_lr, "generator_lr", low=0.0)
    discriminator_lr = check_real(discriminator_lr, "discriminator_lr", low=0.0)
    return _gan_step(generator, discriminator, x_real, z, generator_state, discriminator_state, generator_lr,
                     discriminator_lr, betas)


def _gan_step(generator: MLP, discriminator: MLP, x_real: np.ndarray, z: np.ndarray, generator_state,
              discriminator_state, generator_lr: float, discriminator_lr: float, betas) -> GANStep:
    """[`gan_step`][dlref.models.gan.gan_step] on checked networks, batches and learning rates."""
    n_real = x_real.shape[0]

    fake, generator_cache = generator._forward(z, False, None)

    # Discriminator: real and (fixed) fake samples in one pass.
    logits, cache = discriminator._forward(np.concatenate([x_real, fake]), False, None)
    real_logits, fake_logits = logits[:n_real], logits[n_real:]
    ones, zeros = np.ones_like(real_logits), np.zeros_like(fake_logits)
    discriminator_loss = (binary_cross_entropy_with_logits(real_logits, ones)
                          + binary_cross_entropy_with_logits(fake_logits, zeros))
    dlogits = np.concatenate([binary_cross_entropy_with_logits_backward(real_logits, ones),
                              binary_cross_entropy_with_logits_backward(fake_logits, zeros)])
    discriminator_params, discriminator_state = adam_step(
        discriminator.params, discriminator._backward(dlogits, cache)[0], discriminator_state,
        lr=discriminator_lr, betas=betas)

    # Generator: the same fakes, scored by the updated discriminator, labelled real.
    updated = _with_params(discriminator, discriminator_params)
    fake_logits, cache = updated._forward(fake, False, None)
    ones = np.ones_like(fake_logits)
    generator_loss = binary_cross_entropy_with_logits(fake_logits, ones)
    _, dfake = updated._backward(binary_cross_entropy_with_logits_backward(fake_logits, ones), cache)
    generator_params, generator_state = adam_step(
        generator.params, generator._backward(dfake, generator_cache)[0], generator_state,
        lr=generator_lr, betas=betas)

    return GANStep(generator_params, discriminator_params, generator_state, discriminator_state,
                   float(discriminator_loss), float(generator_loss))


class GAN:
    r"""A generator and a discriminator MLP trained against each other with [`gan_step`][dlref.models.gan.gan_step].

    Parameters
    ----------
    noise_dim : int
        Size of the noise vector $z \sim \mathcal{N}(0, I)$.
    data_dim : int
        Size of a sample.
    generator_hidden, discriminator_hidden : sequence of int, default (64, 64) and (128, 128)
        Hidden widths of $G$ (`noise_dim -> ... -> data_dim`, linear output) and $D$
        (`data_dim -> ... -> 1`, a logit). On the ring of Gaussians, a discriminator as small as the
        generator lets the generator collapse onto one mode at a time (see the GAN page).
    activation : str, default "relu"
        Hidden activation of both networks, a [`dlref.activations`][dlref.activations] name.
    rng : numpy.random.Generator
        Draws the initial weights (generator first), as `torch.nn.Linear` draws them.
    activation_kwargs : dict, optional
        E.g. `{"negative_slope": 0.2}` for `leaky_relu`.
    dtype : numpy dtype, default float64

    Attributes
    ----------
    generator, discriminator : MLP
        The two networks; their `params` are replaced after every step.
    generator_state, discriminator_state : dict or None
        Adam states, kept between calls of `fit`, so that training can continue where it stopped.
    steps : int
        Training steps taken so far.

    Examples
    --------
    >>> import numpy as np
    >>> from dlref.data import ring_of_gaussians
    >>> gan = GAN(2, 2, (16,), (16,), rng=np.random.default_rng(0))
    >>> history = gan.fit(ring_of_gaussians, steps=5, batch_size=32, rng=np.random.default_rng(1))
    >>> print(gan.steps, len(history["discriminator_loss"]), gan.sample(3, np.random.default_rng(2)).shape)
    5 5 (3, 2)
    """

    def __init__(self, noise_dim, data_dim, generator_hidden=(64, 64), discriminator_hidden=(128, 128),
                 activation="relu", *, rng, activation_kwargs=None, dtype=np.float64):
        noise_dim = check_int(noise_dim, "noise_dim", low=1)
        data_dim = check_int(data_dim, "data_dim", low=1)
        check_rng(rng)
        self.generator = MLP((noise_dim, *generator_hidden, data_dim), activation, rng=rng,
                             activation_kwargs=activation_kwargs, dtype=dtype)
        self.discriminator = MLP((data_dim, *discriminator_hidden, 1), activation, rng=rng,
                                 activation_kwargs=activation_kwargs, dtype=dtype)
        self.generator_state: dict | None = None
        self.discriminator_state: dict | None = None
        self.steps = 0

    @property
    def noise_dim(self) -> int:
        """Size of the generator's input."""
        return self.generator.widths[0]

    @property
    def dtype(self) -> np.dtype:
        """dtype of the parameters, the noise and the samples."""
        return self.generator.params["W1"].dtype

    def noise(self, n, rng) -> np.ndarray:
        """`n` standard normal noise vectors, shape `(n, noise_dim)`, in the model's dtype."""
        n = check_int(n, "n", low=1)
        return check_rng(rng).standard_normal((n, self.noise_dim)).astype(self.dtype, copy=False)

    def sample(self, n, rng) -> np.ndarray:
        """`n` generated samples $G(z)$, shape `(n, data_dim)`, for fresh noise drawn from `rng`."""
        return self.generator.forward(self.noise(n, rng))[0]

    def fit(self, data: Callable, *, steps, batch_size, rng, generator_lr=2e-4, discriminator_lr=2e-4,
            betas=(0.5, 0.999)) -> dict[str, list[float]]:
        """Train for `steps` steps, continuing from the current parameters and optimizer states.

        Parameters
        ----------
        data : callable
            `data(n, rng)` returns `n` fresh training samples, shape `(n, data_dim)`, e.g.
            [`ring_of_gaussians`][dlref.data.ring_of_gaussians].
        steps, batch_size : int
            Training steps, and real samples (and noise vectors) per step.
        rng : numpy.random.Generator
            Draws the data and the noise.
        generator_lr, discriminator_lr, betas
            Adam's hyperparameters, as in [`gan_step`][dlref.models.gan.gan_step].

        Returns
        -------
        dict of str to list of float
            Per step: `discriminator_loss`, `generator_loss` and `seconds` (wall time of the step).
        """
        _check_networks(self.generator, self.discriminator)
        steps = check_int(steps, "steps", low=0)
        batch_size = check_int(batch_size, "batch_size", low=1)
        check_rng(rng)
        generator_lr = check_real(generator_lr, "generator_lr", low=0.0)
        discriminator_lr = check_real(discriminator_lr, "discriminator_lr", low=0.0)
        history: dict[str, list[float]] = {"discriminator_loss": [], "generator_loss": [], "seconds": []}
        for _ in range(steps):
            start = time.perf_counter()
            x_real = _check_batch(np.asarray(data(batch_size, rng), dtype=self.dtype), "data(batch_size, rng)",
                                  self.generator.widths[-1], "sample")
            z = self.noise(batch_size, rng)
            with _trusted_inputs():  # the parameters, gradients and Adam states are the ones built here
                step = _gan_step(self.generator, self.discriminator, x_real, z, self.generator_state,
                                 self.discriminator_state, generator_lr, discriminator_lr, betas)
            self.generator.params, self.discriminator.params = step.generator_params, step.discriminator_params
            self.generator_state, self.discriminator_state = step.generator_state, step.discriminator_state
            self.steps += 1
            history["seconds"].append(time.perf_counter() - start)
            history["discriminator_loss"].append(step.discriminator_loss)
            history["generator_loss"].append(step.generator_loss)
        return history


@dataclass(frozen=True)
class ModeCoverage:
    """How well samples cover the modes of a mixture; see [`mode_coverage`][dlref.models.gan.mode_coverage].

    Attributes
    ----------
    counts : numpy.ndarray
        Samples within `radius` of each mode centre, shape `(n_modes,)`, int64.
    modes_covered : int
        Modes that hold at least `min_share` of the samples.
    high_quality : float
        Fraction of all samples within `radius` of some mode centre.
    """

    counts: np.ndarray
    modes_covered: int
    high_quality: float


def mode_coverage(samples, centres, radius=0.5, min_share=0.02):
    r"""Count the modes that samples reach, and the share of samples that land near a mode.

    A sample is *high quality* if it lies within `radius` of its nearest mode centre; a mode is
    *covered* if at least a fraction `min_share` of all samples are high-quality samples of that mode.
    A generator that has collapsed onto a few modes covers few; one that smears its mass between the
    modes has few high-quality samples.

    Parameters
    ----------
    samples : array_like, shape (n, d)
        Generated samples.
    centres : array_like, shape (K, d)
        The mode centres, e.g. [`ring_centres`][dlref.data.ring_centres].
    radius : float, default 0.5
        Distance within which a sample counts for a mode, positive.
    min_share : float, default 0.02
        Share of the samples a mode needs to count as covered, in $[0, 1]$ (a fair share is $1/K$).

    Returns
    -------
    ModeCoverage

    Raises
    ------
    ValueError
        If a shape is wrong, an input has NaN or infinite values, or a threshold is out of range.

    References
    ----------
    Srivastava, A. et al. (2017). VEEGAN: reducing mode collapse in GANs using implicit variational
    learning. NeurIPS. (The high-quality-sample and covered-mode counts on the ring of Gaussians.)

    Examples
    --------
    >>> import numpy as np
    >>> from dlref.data import ring_centres
    >>> centres = ring_centres(4, 1.0)
    >>> result = mode_coverage(np.array([[1.0, 0.1], [0.9, 0.0], [0.0, -1.2], [0.0, 0.0]]), centres)
    >>> print(result.counts, result.modes_covered, result.high_quality)
    [2 0 0 1] 2 0.75
    """
    centres = as_float_array(centres, "centres", allow_inf=False)
    if centres.ndim != 2 or centres.shape[0] == 0:
        raise ValueError(f"centres must have shape (K, d) with K >= 1, one mode centre per row; got "
                         f"{centres.shape}.")
    samples = _check_batch(samples, "samples", centres.shape[1], "sample")
    radius = check_real(radius, "radius", low=0.0, low_inclusive=False)
    min_share = check_real(min_share, "min_share", low=0.0, high=1.0)
    distances = np.linalg.norm(samples[:, None, :] - centres[None, :, :], axis=2)
    nearest = distances.argmin(axis=1)
    near = distances[np.arange(len(samples)), nearest] < radius
    counts = np.bincount(nearest[near], minlength=len(centres)).astype(np.int64)
    return ModeCoverage(counts=counts, modes_covered=int(np.sum(counts >= min_share * len(samples))),
                        high_quality=float(near.mean()))
