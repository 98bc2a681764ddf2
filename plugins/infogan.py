"""InfoGAN: latent codes that the generator must make recoverable, learned without labels (Chen et al. 2016).

Chen, Duan, Houthooft, Schulman, Sutskever & Abbeel (2016), "InfoGAN: Interpretable Representation
Learning by Information Maximizing Generative Adversarial Nets". The generator's latent is noise z and
codes c: one categorical code with ``categories`` values (one-hot) and ``continuous_codes`` codes drawn
from U(-1, 1). A head Q on the discriminator's features guesses c back from G(z, c). On top of their
GAN losses both networks minimise (eq. 5, the variational lower bound of the mutual information)

    lambda * L_I = lambda_cat * CE(Q_cat(G(z, c)), c_cat) + lambda_cont * 1/2 ||Q_cont(G(z, c)) - c_cont||^2

where the continuous part is the log-likelihood of a Gaussian with unit variance, up to a constant.
The generator learns to put c into its images in a way Q can read; on MNIST the categorical code
tends to become the digit's class and the continuous codes its width or slant, with no labels given.
Logged in losses.csv as ``d_/g_info_categorical`` and ``d_/g_info_continuous``.

Simplifications: the networks are the tutorial's MLPs, not the paper's convolutional ones; Q is one
linear layer on D's last hidden layer (acgan's two-headed discriminator), where the paper adds a hidden
layer; lambda_cat = 1 and lambda_cont = 0.1 (``info_weight``, ``continuous_weight``; PyTorch-GAN's
infogan.py uses the same weights).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ganlab import hookimpl
from ganlab_plugins.acgan import AuxiliaryClassifierDiscriminator
from ganlab_plugins.gan import SETTINGS, mlp_discriminator, mlp_generator


@hookimpl
def ganlab_settings():
    return {
        **SETTINGS,  # the plain GAN's (init, d_dropout): the MLPs read them
        "categories": (10, "values of the categorical code"),
        "continuous_codes": (2, "continuous codes, each drawn from U(-1, 1)"),
        "info_weight": (1.0, "lambda_cat: weight of the categorical code's term"),
        "continuous_weight": (0.1, "lambda_cont: weight of the continuous codes' term"),
    }


@hookimpl
def ganlab_sample_latent(count, config, device, generator):
    """[noise z (latent_dim) | one-hot categorical code (categories) | continuous codes (U(-1, 1))]."""
    where = device if generator is None else "cpu"
    categories, continuous = config.settings["categories"], config.settings["continuous_codes"]
    noise = torch.randn(count, config.latent_dim, generator=generator, device=where)
    category = torch.randint(0, categories, (count,), generator=generator, device=where)
    codes = torch.rand(count, continuous, generator=generator, device=where) * 2 - 1
    return torch.cat([noise, F.one_hot(category, categories).float(), codes], dim=1).to(device)


@hookimpl
def ganlab_generator(spec, config, input_shape):
    return mlp_generator(spec, config, input_shape)


@hookimpl
def ganlab_discriminator(spec, config, input_shape):
    """D's trunk with two heads: the real/fake logit, and Q's guesses of the codes."""
    q_size = config.settings["categories"] + config.settings["continuous_codes"]
    return AuxiliaryClassifierDiscriminator(mlp_discriminator(spec, config, input_shape), q_size,
                                            config.settings["init"])


@hookimpl
def ganlab_auxiliary_loss(outputs, latent, config):
    """lambda * L_I on generated batches (for D's Q head and for G); nothing on real ones (no codes)."""
    if latent is None:
        return None
    categories = config.settings["categories"]
    codes = latent[:, config.latent_dim:]
    guesses = outputs[1]
    categorical = F.cross_entropy(guesses[:, :categories], codes[:, :categories].argmax(1))
    continuous = 0.5 * (guesses[:, categories:] - codes[:, categories:]).pow(2).sum(1).mean()
    return {"info_categorical": config.settings["info_weight"] * categorical,
            "info_continuous": config.settings["continuous_weight"] * continuous}


def recovered_category(discriminator, images: torch.Tensor, config) -> torch.Tensor:
    """Q's guess of the categorical code behind each image (N,): how well the codes can be read back."""
    with torch.no_grad():
        guesses = discriminator(images, torch.zeros(len(images), dtype=torch.long, device=images.device))[1]
    return guesses[:, :config.settings["categories"]].argmax(1)
