"""ganlab: train, compare and extend generative adversarial networks.

Plugins mark their hook implementations with :data:`hookimpl`; the hooks are listed, with their
arguments and what they must return, in :mod:`ganlab.hookspecs`.
"""
import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("ganlab")
"""The marker every plugin uses: ``@ganlab.hookimpl def ganlab_generator(spec, config, input_shape): ...``"""

__all__ = ["hookimpl", "__version__"]
