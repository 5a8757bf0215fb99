"""The torch twin of `dlref.models.gan.gan_step`: the oracle of the GAN tests and the rival of bench_generative."""

import numpy as np
import torch


def torch_gan_step(G, D, opt_g, opt_d, x_real, z):
    """The textbook PyTorch GAN step (as in the DCGAN tutorial), with the non-saturating generator loss.

    `G` and `D` are torch modules (e.g. `tests.torch_mlp.torch_copy` of the dlref networks), `opt_g` and
    `opt_d` their optimizers; returns the discriminator's and the generator's loss as floats.
    """
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    fake = G(z)
    opt_d.zero_grad()
    real_logits, fake_logits = D(x_real), D(fake.detach())
    loss_d = bce(real_logits, torch.ones_like(real_logits)) + bce(fake_logits, torch.zeros_like(fake_logits))
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    fake_logits = D(fake)
    loss_g = bce(fake_logits, torch.ones_like(fake_logits))
    loss_g.backward()
    opt_g.step()
    return loss_d.item(), loss_g.item()


def torch_params(net: torch.nn.Sequential) -> dict[str, np.ndarray]:
    """The parameters of a `torch_copy` in `dlref.models.MLP`'s layout: `W1`, `b1`, `W2`, ..."""
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    params = {}
    for layer, linear in enumerate(linears, start=1):
        params[f"W{layer}"] = linear.weight.detach().numpy()
        params[f"b{layer}"] = linear.bias.detach().numpy()
    return params
