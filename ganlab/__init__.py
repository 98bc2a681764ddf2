"""ganlab: train, compare and extend generative adversarial networks.

What a learner needs::

    import ganlab
    run = ganlab.train(ganlab.RunConfig(variant="cgan", steps=2000))   # `ganlab run`
    ganlab.sample(run.folder.path, "sevens.png", label=7)              # `ganlab sample`
    ganlab.evaluate(run.folder.path)                                   # `ganlab eval`
    ganlab.compare([run_a, run_b], "report/")                          # `ganlab compare`

What a plugin author needs: :data:`hookimpl` (the marker), the hooks in :mod:`ganlab.hookspecs`, and
:func:`adversarial_scores`; :class:`DatasetSpec` and :class:`RunConfig` describe what the hooks receive.

``import ganlab`` itself is light: each name below is imported from its module the first time it is
used (PEP 562), so a plugin that only needs ``ganlab.hookimpl`` does not pay for torch and matplotlib,
and the ``ganlab`` command starts quickly.
"""
import importlib

from ganlab.hookspecs import RunView, adversarial_scores, hookimpl
from ganlab.version import __version__

# Every public name, and the module it lives in.
_PUBLIC = {
    # running things (the CLI's commands)
    "train": "ganlab.api", "resume": "ganlab.api", "evaluate": "ganlab.api", "sample": "ganlab.api",
    "compare": "ganlab.api", "train_variants": "ganlab.api", "register_observers": "ganlab.api",
    "load_run": "ganlab.loading",
    # settings and data
    "RunConfig": "ganlab.config", "Dataset": "ganlab.data", "DatasetSpec": "ganlab.data",
    "load_dataset": "ganlab.data", "to_unit_range": "ganlab.data", "from_unit_range": "ganlab.data",
    "save_examples_grid": "ganlab.data.explore", "save_label_histogram": "ganlab.data.explore",
    # writing plugins
    "make_plugin_manager": "ganlab.plugins", "discover_plugins": "ganlab.plugins",
    # the loop, opened up: build a run without training it, take one step by hand
    "prepare": "ganlab.training_run", "TrainingRun": "ganlab.training_run",
    "RealBatches": "ganlab.trainer", "train_step": "ganlab.trainer",
    # drawing and measuring samples
    "generate": "ganlab.sampling", "save_grid": "ganlab.sampling", "evaluate_samples": "ganlab.evaluation",
    "format_table": "ganlab.evaluation", "moving_average": "ganlab.figures",
    # errors
    "GanlabError": "ganlab.errors", "ConfigError": "ganlab.errors", "DataError": "ganlab.errors",
    "PluginError": "ganlab.errors", "CheckpointError": "ganlab.errors", "DivergenceError": "ganlab.errors",
}
_RENAMED = {"describe_dataset": ("ganlab.data.explore", "describe")}

__all__ = ["hookimpl", "adversarial_scores", "RunView", "__version__", *_PUBLIC, *_RENAMED]


def __getattr__(name: str):
    if name in _PUBLIC:
        value = getattr(importlib.import_module(_PUBLIC[name]), name)
    elif name in _RENAMED:
        module, attribute = _RENAMED[name]
        value = getattr(importlib.import_module(module), attribute)
    else:
        raise AttributeError(f"module 'ganlab' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__():
    return sorted(__all__)
