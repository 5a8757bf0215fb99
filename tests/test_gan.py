"""dlref.models.gan: one training step against the same GAN in PyTorch, gradients, coverage and errors."""

import numpy as np
import pytest
import torch

from dlref.data import ring_centres, ring_of_gaussians
from dlref.models import MLP
from dlref.models.gan import GAN, gan_step, mode_coverage
from tests.torch_gan import torch_gan_step, torch_params
from tests.torch_mlp import torch_copy


@pytest.mark.parametrize("activation, kwargs", [("relu", {}), ("leaky_relu", {"negative_slope": 0.2}),
                                                ("tanh", {})])
def test_training_steps_match_torch(activation, kwargs):
    rng = np.random.default_rng(0)
    G = MLP((3, 7, 6, 2), activation, rng=rng, activation_kwargs=kwargs)
    D = MLP((2, 5, 4, 1), activation, rng=rng, activation_kwargs=kwargs)
    G_t, D_t = torch_copy(G), torch_copy(D)
    lrs, betas = {"generator_lr": 3e-3, "discriminator_lr": 7e-3}, (0.5, 0.99)
    opt_g = torch.optim.Adam(G_t.parameters(), lr=lrs["generator_lr"], betas=betas)
    opt_d = torch.optim.Adam(D_t.parameters(), lr=lrs["discriminator_lr"], betas=betas)
    g_state = d_state = None
    for _ in range(3):  # the first step, and two more that read the Adam states
        x_real, z = rng.normal(size=(11, 2)), rng.normal(size=(9, 3))  # batches of different sizes
        step = gan_step(G, D, x_real, z, g_state, d_state, **lrs, betas=betas)
        loss_d, loss_g = torch_gan_step(G_t, D_t, opt_g, opt_d, torch.tensor(x_real), torch.tensor(z))

        np.testing.assert_allclose(step.discriminator_loss, loss_d, rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(step.generator_loss, loss_g, rtol=1e-8, atol=1e-8)
        for ours, theirs in ((step.generator_params, torch_params(G_t)),
                             (step.discriminator_params, torch_params(D_t))):
            assert ours.keys() == theirs.keys()
            for key in ours:
                np.testing.assert_allclose(ours[key], theirs[key], rtol=1e-8, atol=1e-8, err_msg=key)
        G.params, D.params = step.generator_params, step.discriminator_params
        g_state, d_state = step.generator_state, step.discriminator_state
    assert g_state["step"] == d_state["step"] == 3


def test_gan_step_leaves_its_inputs_unchanged():
    rng = np.random.default_rng(1)
    G, D = MLP((2, 4, 2), rng=rng), MLP((2, 4, 1), rng=rng)
    before = {name: {k: v.copy() for k, v in m.params.items()} for name, m in (("G", G), ("D", D))}
    step = gan_step(G, D, rng.normal(size=(5, 2)), rng.normal(size=(5, 2)), generator_lr=0.1,
                    discriminator_lr=0.1)
    for name, model in (("G", G), ("D", D)):
        for key, value in model.params.items():
            np.testing.assert_array_equal(value, before[name][key])
    assert not np.array_equal(step.generator_params["W1"], G.params["W1"])


def test_float32_gan_keeps_its_dtype():
    gan = GAN(2, 2, (8,), (8,), rng=np.random.default_rng(3), dtype=np.float32)
    history = gan.fit(ring_of_gaussians, steps=3, batch_size=16, rng=np.random.default_rng(4))
    assert all(p.dtype == np.float32 for p in gan.generator.params.values())
    assert all(p.dtype == np.float32 for p in gan.discriminator.params.values())
    assert gan.sample(5, np.random.default_rng(5)).dtype == np.float32
    assert len(history["generator_loss"]) == 3 and gan.steps == 3


def test_fit_continues_where_it_stopped():
    # two calls of 3 steps equal one call of 6 steps: the optimizer states are kept between calls
    runs = []
    for chunks in ((6,), (3, 3)):
        gan = GAN(2, 2, (8,), (8,), rng=np.random.default_rng(6))
        rng = np.random.default_rng(7)
        for steps in chunks:
            gan.fit(ring_of_gaussians, steps=steps, batch_size=16, rng=rng, generator_lr=1e-2)
        runs.append(gan)
    for key, value in runs[0].generator.params.items():
        np.testing.assert_array_equal(value, runs[1].generator.params[key])
    assert runs[1].discriminator_state["step"] == 6


def test_fit_is_the_loop_of_public_gan_steps():
    # fit runs unchecked kernels and trusted Adam steps; they must compute what gan_step does
    gan = GAN(2, 2, (8,), (8,), rng=np.random.default_rng(9))
    G, D = (MLP(model.widths, rng=np.random.default_rng(0)) for model in (gan.generator, gan.discriminator))
    G.params, D.params = dict(gan.generator.params), dict(gan.discriminator.params)
    gan.fit(ring_of_gaussians, steps=3, batch_size=16, rng=np.random.default_rng(10), generator_lr=1e-2)
    rng, g_state, d_state = np.random.default_rng(10), None, None
    for _ in range(3):  # the draws fit makes: a batch of data, then the noise
        x_real = ring_of_gaussians(16, rng)
        step = gan_step(G, D, x_real, rng.standard_normal((16, 2)), g_state, d_state, generator_lr=1e-2)
        G.params, D.params = step.generator_params, step.discriminator_params
        g_state, d_state = step.generator_state, step.discriminator_state
    for ours, expected in ((gan.generator, G), (gan.discriminator, D)):
        for key, value in ours.params.items():
            np.testing.assert_array_equal(value, expected.params[key], err_msg=key)


def test_mode_coverage_counts_by_hand():
    centres = ring_centres(8, 2.0)
    samples = np.concatenate([
        np.repeat(centres[:1] + 0.1, 30, axis=0),  # 30 close to mode 0
        np.repeat(centres[3:4] - 0.3, 10, axis=0),  # 10 within 0.5 of mode 3 (0.42 away)
        np.repeat(centres[5:6], 1, axis=0),         # 1 at mode 5: 1/50 = 2%, just enough
        np.zeros((9, 2)),                           # 9 at the centre of the ring, 2 away from every mode
    ])
    result = mode_coverage(samples, centres)
    np.testing.assert_array_equal(result.counts, [30, 0, 0, 10, 0, 1, 0, 0])
    assert result.modes_covered == 3
    assert result.high_quality == 41 / 50
    assert mode_coverage(samples, centres, min_share=0.03).modes_covered == 2
    assert mode_coverage(samples, centres, radius=0.4).counts[3] == 0


def test_gan_covers_all_eight_modes_of_the_ring():
    # the configuration and seeds of docs/gan.md, trained for longer than the page can afford
    gan = GAN(2, 2, (64, 64), (128, 128), "relu", rng=np.random.default_rng(2))
    gan.fit(ring_of_gaussians, steps=1200, batch_size=128, rng=np.random.default_rng(1002),
            generator_lr=2e-3, discriminator_lr=2e-3, betas=(0.5, 0.999))
    result = mode_coverage(gan.sample(2000, np.random.default_rng(8)), ring_centres())
    assert result.modes_covered == 8, result.counts
    assert result.high_quality >= 0.90, result.high_quality


def test_a_discriminator_as_small_as_the_generator_collapses():
    # the failure shown in docs/gan.md: one change (discriminator 2-64-64-1), same seeds and settings
    gan = GAN(2, 2, (64, 64), (64, 64), "relu", rng=np.random.default_rng(2))
    rng = np.random.default_rng(1002)
    fullest = []
    for _ in range(8):
        gan.fit(ring_of_gaussians, steps=25, batch_size=128, rng=rng, generator_lr=2e-3,
                discriminator_lr=2e-3, betas=(0.5, 0.999))
        result = mode_coverage(gan.sample(2000, np.random.default_rng(8)), ring_centres())
        assert result.modes_covered <= 2, (gan.steps, result.counts)
        if result.counts.any():
            fullest.append(int(result.counts.argmax()))
    assert len(set(fullest)) >= 4, fullest  # it hops from mode to mode


def test_bad_inputs_are_rejected():
    rng = np.random.default_rng(8)
    G, D = MLP((2, 4, 3), rng=rng), MLP((2, 4, 1), rng=rng)
    x, z = np.ones((4, 2)), np.ones((4, 2))
    with pytest.raises(TypeError, match="generator must be a dlref.models.MLP; got dict"):
        gan_step(G.params, D, x, z)
    with pytest.raises(ValueError, match=r"the generator's output width, 3 .* must equal the "
                                         r"discriminator's input width, 2"):
        gan_step(G, D, x, z)
    with pytest.raises(ValueError, match=r"the discriminator must output one logit per sample .* \(2, 4, 2\)"):
        gan_step(MLP((2, 4, 2), rng=rng), MLP((2, 4, 2), rng=rng), x, z)
    with pytest.raises(ValueError, match=r"discriminator must be an MLP without dropout and batch "
                                         r"normalisation \(got dropout=0.5, batch_norm=False\)"):
        gan_step(MLP((2, 4, 2), rng=rng), MLP((2, 4, 1), rng=rng, dropout=0.5), x, z)
    G = MLP((2, 4, 2), rng=rng)
    with pytest.raises(ValueError, match=r"x_real must have shape \(N, 2\) with N >= 1, one sample per row; "
                                         r"got \(4, 3\)"):
        gan_step(G, D, np.ones((4, 3)), z)
    with pytest.raises(ValueError, match=r"z must have shape \(N, 2\) with N >= 1, one noise vector per row; "
                                         r"got \(4,\)"):
        gan_step(G, D, x, np.ones(4))
    with pytest.raises(ValueError, match="x_real must not contain NaN or infinite values"):
        gan_step(G, D, np.full((4, 2), np.inf), z)
    with pytest.raises(ValueError, match=r"discriminator_lr must be in \[0.0, inf\]; got -0.1"):
        gan_step(G, D, x, z, discriminator_lr=-0.1)
    with pytest.raises(ValueError, match=r"data\(batch_size, rng\) must not contain NaN or infinite values"):
        GAN(2, 2, (4,), (4,), rng=rng).fit(lambda n, rng: np.full((n, 2), np.nan), steps=1, batch_size=4, rng=rng)
    with pytest.raises(ValueError, match=r"data\(batch_size, rng\) must have shape \(N, 2\) with N >= 1"):
        GAN(2, 2, (4,), (4,), rng=rng).fit(lambda n, rng: np.ones((n, 3)), steps=1, batch_size=4, rng=rng)
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        GAN(2, 2, rng=0)
    with pytest.raises(ValueError, match="noise_dim must be an int >= 1; got 0"):
        GAN(0, 2, rng=rng)
    with pytest.raises(ValueError, match=r"centres must have shape \(K, d\) with K >= 1"):
        mode_coverage(np.ones((3, 2)), np.ones(2))
    with pytest.raises(ValueError, match=r"samples must have shape \(N, 2\)"):
        mode_coverage(np.ones((3, 3)), ring_centres())
    with pytest.raises(ValueError, match=r"radius must be in \(0.0, inf\]; got 0.0"):
        mode_coverage(np.ones((3, 2)), ring_centres(), radius=0.0)
    with pytest.raises(ValueError, match=r"min_share must be in \[0.0, 1.0\]; got 1.5"):
        mode_coverage(np.ones((3, 2)), ring_centres(), min_share=1.5)
