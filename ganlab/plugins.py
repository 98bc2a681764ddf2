"""The one factory that builds a plugin manager: core defaults + the chosen variant's plugins.

Plugins are found in two places, and both are treated the same:
- installed packages that declare an entry point in the ``ganlab`` group (the built-in ``gan`` and
  ``cgan`` arrive this way too): the entry point's name is the plugin's name;
- ``.py`` files given with ``--plugin path/to/file.py``: the file's stem is the plugin's name.

Only the plugins a variant names are imported, so a broken plugin that a run does not use cannot
stop it. ``GANLAB_PLUGINS=a,b`` limits which installed plugins are visible at all;
``GANLAB_TRACE_PLUGINS=1`` prints a table of which plugin answered each hook when the command ends
(``=2`` prints every call as it happens instead). :func:`describe_failure` turns an exception raised
inside a plugin into a message that names the plugin, the hook and the file and line.
"""
from __future__ import annotations

import atexit
import difflib
import functools
import importlib.metadata
import importlib.util
import inspect
import math
import os
import sys
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from ganlab import defaults, hookspecs
from ganlab.errors import ConfigError, PluginError

ENTRY_POINT_GROUP = "ganlab"
DEFAULTS_NAME = "ganlab.defaults"
REQUIRED_HOOKS = ("ganlab_generator", "ganlab_discriminator")
HOOK_NAMES = tuple(sorted(name for name in dir(hookspecs) if name.startswith("ganlab_")))


@dataclass
class PluginSource:
    """A plugin that can be selected by name, and where it comes from; imported on first use."""

    name: str
    origin: str  # "ganlab 0.2.0 (ganlab_plugins.cgan)" or a file path
    load: Callable[[], ModuleType] = field(repr=False)
    _module: ModuleType | None = field(default=None, repr=False)

    @property
    def module(self) -> ModuleType:
        """The plugin's module, imported now if it was not yet; a failure is a :class:`PluginError`."""
        if self._module is None:
            try:
                self._module = self.load()
            except PluginError:
                raise
            except Exception as exc:  # a plugin's import error must not look like a ganlab crash
                raise PluginError(
                    f'Error importing plugin "{self.name}" ({self.origin}): {type(exc).__name__}: {exc}. '
                    f"Fix the plugin, or leave it out (GANLAB_PLUGINS=name,... limits which installed "
                    f"plugins load)."
                ) from exc
        return self._module

    @property
    def description(self) -> str:
        doc = (self.module.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else "(no description: add a module docstring)"

    @property
    def hooks(self) -> list[str]:
        return sorted(name for name in dir(self.module)
                      if name.startswith("ganlab_") and _is_hookimpl(getattr(self.module, name)))

    @property
    def settings(self) -> dict[str, tuple[Any, str]]:
        declare = getattr(self.module, "ganlab_settings", None)
        return (declare() if declare and _is_hookimpl(declare) else None) or {}


def _is_hookimpl(obj: Any) -> bool:
    return hasattr(obj, hookspecs.PROJECT_NAME + "_impl")


def discover_plugins(plugin_files: list[str] | tuple[str, ...] = ()) -> dict[str, PluginSource]:
    """Every selectable plugin by name, not yet imported: installed entry points, then ``--plugin`` files."""
    sources: dict[str, PluginSource] = {}
    for entry_point in _entry_points():
        dist = entry_point.dist
        origin = f"{dist.name} {dist.version} ({entry_point.value})" if dist else entry_point.value
        _add_source(sources, PluginSource(entry_point.name, origin, entry_point.load))
    for file in plugin_files:
        path = Path(file).expanduser().resolve()
        _add_source(sources, PluginSource(path.stem, str(path), functools.partial(_load_file, path)))
    return sources


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    found = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    only = os.environ.get("GANLAB_PLUGINS")
    if only:
        wanted = {name.strip() for name in only.split(",")}
        found = [ep for ep in found if ep.name in wanted]
    return found


def _add_source(sources: dict[str, PluginSource], source: PluginSource) -> None:
    if source.name in sources:
        raise PluginError(
            f'Two plugins are named "{source.name}": {sources[source.name].origin} and {source.origin}. '
            f"Plugin names must be unique: uninstall one, or rename the file or entry point of the other."
        )
    sources[source.name] = source


def _load_file(path: Path) -> ModuleType:
    if not path.is_file() or path.suffix != ".py":
        raise PluginError(f"--plugin {path}: no such .py file. Give the path of a Python file.")
    module_name = f"ganlab_plugin_file_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # so that pickling and dataclasses inside it work
    spec.loader.exec_module(module)
    return module


def parse_variant(variant: str) -> list[str]:
    """``"dcgan+hinge"`` -> ``["dcgan", "hinge"]``."""
    names = [name.strip() for name in variant.split("+")]
    if not variant.strip() or not all(names):
        raise ConfigError(f'--variant "{variant}" is empty or malformed: write e.g. cgan or dcgan+hinge.')
    return names


def make_plugin_manager(
    variant: str = "cgan", plugin_files: list[str] | tuple[str, ...] = ()
) -> pluggy.PluginManager:
    """Build a plugin manager for one variant, validated.

    :param variant: plugin name(s) joined by ``+``; the first named is asked first.
    :param plugin_files: ``.py`` files to make selectable, as with ``--plugin``.
    :raises PluginError: for an unknown name, a broken plugin, or a variant without networks.
    """
    names = parse_variant(variant)
    sources = discover_plugins(plugin_files)
    pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    pm.register(defaults, name=DEFAULTS_NAME)
    # pluggy asks the most recently registered plugin first: register the first-named last.
    for name in reversed(names):
        if name not in sources:
            raise PluginError(_unknown_variant_message(name, sources))
        register_plugin(pm, sources[name].module, sources[name].name, sources[name].origin)
    _check_required_hooks(pm, variant)
    plugin_settings(pm)  # a clash between two plugins' settings is refused now, not at the first step
    if os.environ.get("GANLAB_TRACE_PLUGINS"):
        trace_hook_calls(pm, verbose=os.environ["GANLAB_TRACE_PLUGINS"].strip() == "2")
    return pm


def register_plugin(pm: pluggy.PluginManager, plugin: Any, name: str, origin: str = "") -> None:
    """Register a plugin (a module or an object), checking it against the contract first."""
    origin = origin or _origin_of(plugin)
    if pm.is_registered(plugin) or pm.get_plugin(name) is not None:
        raise PluginError(f'Plugin "{name}" is registered twice (named twice in --variant?); name it once.')
    _check_hook_names(plugin, name)
    try:
        pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f'Plugin "{name}" ({origin}) breaks the hook contract: {" ".join(str(exc).split())}. A hook '
            f"implementation may take only arguments that its spec in ganlab/hookspecs.py lists."
        ) from exc


def _origin_of(plugin: Any) -> str:
    try:
        return inspect.getfile(plugin if inspect.ismodule(plugin) else type(plugin))
    except TypeError:
        return type(plugin).__name__


def _unknown_variant_message(name: str, sources: dict[str, PluginSource]) -> str:
    known = ", ".join(sorted(sources)) or "none are installed"
    close = difflib.get_close_matches(name, sources, n=1)
    hint = f' Did you mean "{close[0]}"?' if close else ""
    return (
        f'Unknown variant "{name}".{hint} Known variants: {known}. Run `ganlab variants` to list '
        f"them, or load your own with `ganlab run --plugin path/to/file.py`."
    )


def _check_hook_names(plugin: Any, plugin_name: str) -> None:
    """Refuse a ``ganlab_*`` function that is not a hook (a typo) or that lacks ``@hookimpl``.

    Without the marker pluggy would ignore the function, and the run would silently use a default.
    """
    for attr in dir(plugin):
        if not attr.startswith("ganlab_") or not callable(getattr(plugin, attr, None)):
            continue
        if attr not in HOOK_NAMES:
            close = difflib.get_close_matches(attr, HOOK_NAMES, n=1)
            hint = f' Did you mean "{close[0]}"?' if close else ""
            raise PluginError(
                f'Plugin "{plugin_name}" implements "{attr}", which is not a ganlab hook.{hint} '
                f"The hooks are listed in ganlab/hookspecs.py; rename the function."
            )
        if not _is_hookimpl(getattr(plugin, attr)):
            raise PluginError(
                f'Plugin "{plugin_name}" defines {attr} without the @ganlab.hookimpl marker, so it '
                f"would be ignored and the default used instead. Put @ganlab.hookimpl on the line "
                f"above `def {attr}`."
            )


def _check_required_hooks(pm: pluggy.PluginManager, variant: str) -> None:
    for hook_name in REQUIRED_HOOKS:
        if not getattr(pm.hook, hook_name).get_hookimpls():
            what = hook_name.removeprefix("ganlab_")
            raise PluginError(
                f'Variant "{variant}" provides no {what}: no plugin in it implements {hook_name}. '
                f"Combine it with a plugin that builds networks, e.g. --variant gan+{variant}."
            )


def answering_plugins(pm: pluggy.PluginManager, hook_name: str) -> str:
    """The plugins that implement a hook, in the order pluggy asks them ("cgan, ganlab.defaults")."""
    impls = getattr(pm.hook, hook_name).get_hookimpls()
    return ", ".join(impl.plugin_name for impl in reversed(impls)) or "no plugin"


# --------------------------------------------------------------------------------------------------
# Settings: declared once by the plugins that read them
# --------------------------------------------------------------------------------------------------
def plugin_settings(pm: pluggy.PluginManager) -> dict[str, tuple[Any, str, str]]:
    """Every setting the registered plugins declare: ``{name: (default, help, plugin names)}``.

    Two plugins may declare one name with the same default (a shared setting, such as ``init`` for
    every plugin built on the MLPs); with different defaults they clash, and that is refused.
    """
    declared: dict[str, tuple[Any, str, str]] = {}
    for impl in reversed(pm.hook.ganlab_settings.get_hookimpls()):  # in the order the variant names them
        for name, (default, help_text) in (impl.function() or {}).items():
            if name not in declared:
                declared[name] = (default, help_text, impl.plugin_name)
                continue
            first_default, first_help, owners = declared[name]
            if type(first_default) is not type(default) or first_default != default:
                raise PluginError(
                    f'Plugins "{owners}" and "{impl.plugin_name}" both declare the setting "{name}", with '
                    f"different defaults ({first_default!r} and {default!r}): they clash in this "
                    f"variant. Rename the setting in one of them."
                )
            declared[name] = (first_default, first_help, f"{owners}, {impl.plugin_name}")
    return declared


def resolve_settings(pm: pluggy.PluginManager, overrides: dict[str, Any]) -> dict[str, Any]:
    """The plugins' defaults, with the user's ``--set name=value`` converted to each default's type."""
    declared = plugin_settings(pm)
    values = {name: default for name, (default, _, _) in declared.items()}
    for name, raw in overrides.items():
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ConfigError(f'Unknown setting "{name}" for this variant. Its settings: {known}.')
        values[name] = _convert(name, raw, declared[name][0])
    return values


def _convert(name: str, raw: Any, default: Any) -> Any:
    kind = type(default)
    if isinstance(raw, kind) and not (kind is int and isinstance(raw, bool)):
        value = raw
    else:
        value = _parse(name, str(raw).strip(), kind, default)
    if kind is float and not math.isfinite(value):
        raise ConfigError(f'Setting "{name}" must be a finite number, not {raw!r}.')
    return value


def _parse(name: str, text: str, kind: type, default: Any) -> Any:
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        return kind(text)
    except (TypeError, ValueError):
        raise ConfigError(
            f'Setting "{name}" must be a {kind.__name__} (like its default {default!r}), not {text!r}.'
        ) from None


# --------------------------------------------------------------------------------------------------
# Naming the culprit: which plugin, which hook, which line
# --------------------------------------------------------------------------------------------------
def describe_failure(exc: BaseException, pm: pluggy.PluginManager, doing: str) -> str:
    """One paragraph about an exception raised while ``doing`` something: which plugin's code raised
    it (from the traceback: the innermost frame in a registered plugin's file), in which hook or
    method, at which file and line, and how to see more."""
    where = _plugin_frames(exc, pm)
    detail = str(exc).strip().rstrip(".") or "(no message)"
    if where:
        plugin, function, location = where
        culprit = f'Plugin "{plugin}" failed in {function} ({location})'
    else:
        culprit = "No plugin's own code is in the traceback; the error came from what a hook returned"
    return (f"{culprit} while {doing}: {type(exc).__name__}: {detail}. Fix the plugin, or check the "
            f"order of the plugins in the variant; GANLAB_TRACE_PLUGINS=1 shows which plugin answered "
            f"each hook.")


def _plugin_files(pm: pluggy.PluginManager) -> dict[str, str]:
    files = {}
    for name, plugin in pm.list_name_plugin():
        origin = _origin_of(plugin)
        if origin.endswith(".py"):
            files[os.path.realpath(origin)] = name
    return files


def _plugin_frames(exc: BaseException, pm: pluggy.PluginManager) -> tuple[str, str, str] | None:
    """(plugin name, "hook or Class.method", "file:line") for the innermost frame in a plugin's file."""
    files = _plugin_files(pm)
    frames = [(frame, line) for frame, line in traceback.walk_tb(exc.__traceback__)
              if os.path.realpath(frame.f_code.co_filename) in files]
    if not frames:
        return None
    frame, line = frames[-1]
    path = os.path.realpath(frame.f_code.co_filename)
    hooks = [f.f_code.co_name for f, _ in frames if f.f_code.co_name in HOOK_NAMES]
    owner = frame.f_locals.get("self")
    function = hooks[0] if hooks else (
        f"{type(owner).__name__}.{frame.f_code.co_name}" if owner is not None else frame.f_code.co_name)
    return files[path], function, f"{_short_path(path)}:{line}"


def _short_path(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path


# --------------------------------------------------------------------------------------------------
# Tracing: GANLAB_TRACE_PLUGINS=1 (a table) or 2 (also every call)
# --------------------------------------------------------------------------------------------------
def trace_hook_calls(pm: pluggy.PluginManager, out=None, verbose: bool = False) -> Counter:
    """Count which plugin answered each hook and print the table when the process ends (``=1``), or,
    ``verbose`` (``=2``), print one line per answered call instead. Returns the live counter."""
    answers: Counter = Counter()
    for hook_name in HOOK_NAMES:
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            impl.function = _traced(impl.function, hook_name, impl.plugin_name, answers, out, verbose)
    if not verbose:
        atexit.register(lambda: print(trace_table(answers), file=out or sys.stderr))
    return answers


def trace_table(answers: Counter) -> str:
    """``hook  plugin  calls`` for every hook that got an answer, in the contract's order."""
    rows = sorted(answers.items(), key=lambda item: (HOOK_NAMES.index(item[0][0]), item[0][1]))
    width = max((len(hook) for (hook, _), _ in rows), default=4)
    lines = [f"[ganlab trace] {'hook':<{width}}  answered by (calls)"]
    lines += [f"[ganlab trace] {hook:<{width}}  {plugin} ({count})" for (hook, plugin), count in rows]
    return "\n".join(lines)


def _traced(function, hook_name: str, plugin_name: str, answers: Counter, out, verbose: bool):
    @functools.wraps(function)
    def traced(*args, **kwargs):
        result = function(*args, **kwargs)
        if result is not None or hook_name in _OBSERVER_HOOKS:
            answers[hook_name, plugin_name] += 1
            if verbose:
                print(f"[ganlab trace] {hook_name}: answered by {plugin_name} -> {type(result).__name__}",
                      file=out or sys.stderr)
        return result

    return traced


_OBSERVER_HOOKS = {"ganlab_train_start", "ganlab_step_end", "ganlab_samples_made", "ganlab_evaluated",
                   "ganlab_checkpoint_saved", "ganlab_train_end", "ganlab_generator_updated",
                   "ganlab_restore_state"}
