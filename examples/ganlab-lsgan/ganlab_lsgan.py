"""LSGAN: least-squares losses (Mao et al. 2017) with the plain GAN's networks.

    D: minimise  1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]
    G: minimise  1/2 E[(D(G(z)) - 1)^2]

D's scores are raw outputs (no sigmoid), pulled towards 1 for real images and 0 for fakes.
"""
import ganlab
from ganlab.hookspecs import adversarial_scores  # a tuple's first item (ACGAN's D returns two)

# The plain GAN's MLP networks: importing hook implementations makes them this plugin's too.
# In `--variant dcgan+lsgan` the plugin named first, dcgan, answers for the networks instead.
from ganlab_plugins.gan import ganlab_discriminator, ganlab_generator  # noqa: F401


@ganlab.hookimpl
def ganlab_discriminator_loss(scores, is_real):
    target = 1.0 if is_real else 0.0
    return 0.5 * ((adversarial_scores(scores) - target) ** 2).mean()


@ganlab.hookimpl
def ganlab_generator_loss(scores):
    return 0.5 * ((adversarial_scores(scores) - 1.0) ** 2).mean()
