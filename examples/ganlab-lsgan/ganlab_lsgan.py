"""LSGAN: least-squares losses (Mao et al. 2017), for any networks: gan+lsgan, dcgan+lsgan, cgan+lsgan.

    D: minimise  1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]
    G: minimise  1/2 E[(D(G(z)) - 1)^2]

D's scores are raw outputs (no sigmoid), pulled towards 1 for real samples and 0 for fakes, so
D calls a sample real when its score is above the midpoint, 0.5.
"""
import ganlab


@ganlab.hookimpl
def ganlab_discriminator_loss(scores, is_real):
    target = 1.0 if is_real else 0.0
    return 0.5 * ((scores - target) ** 2).mean()


@ganlab.hookimpl
def ganlab_generator_loss(scores):
    return 0.5 * ((scores - 1.0) ** 2).mean()


@ganlab.hookimpl
def ganlab_real_fake_threshold():
    return 0.5
