"""The one factory that builds a plugin manager: core defaults + the chosen variant's plugins.

Plugins are found in two places, and both are treated the same:
- installed packages that declare an entry point in the ``ganlab`` group (the built-in ``gan`` and
  ``cgan`` arrive this way too): the entry point's name is the plugin's name;
- ``.py`` files given with ``--plugin path/to/file.py``: the file's stem is the plugin's name.

``GANLAB_PLUGINS=a,b`` limits which installed plugins are loaded; ``GANLAB_TRACE_PLUGINS=1`` prints
which plugin answered each hook call.
"""
from __future__ import annotations

import difflib
import functools
import importlib.metadata
import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from ganlab import defaults, hookspecs
from ganlab.errors import ConfigError, PluginError

ENTRY_POINT_GROUP = "ganlab"
DEFAULTS_NAME = "ganlab.defaults"
REQUIRED_HOOKS = ("ganlab_generator", "ganlab_discriminator")


@dataclass
class PluginSource:
    """A plugin that can be selected by name, and where it came from."""

    name: str
    module: ModuleType
    origin: str  # "ganlab 0.1.0 (ganlab_plugins.cgan)" or a file path

    @property
    def description(self) -> str:
        doc = (self.module.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else "(no description: add a module docstring)"

    @property
    def hooks(self) -> list[str]:
        return sorted(
            name for name in dir(self.module)
            if name.startswith("ganlab_") and _is_hookimpl(getattr(self.module, name))
        )


def _is_hookimpl(obj: Any) -> bool:
    return hasattr(obj, hookspecs.PROJECT_NAME + "_impl")


def discover_plugins(plugin_files: list[str] | tuple[str, ...] = ()) -> dict[str, PluginSource]:
    """Every selectable plugin by name: installed entry points, then ``--plugin`` files."""
    sources: dict[str, PluginSource] = {}
    for entry_point in _entry_points():
        dist = entry_point.dist
        origin = f"{dist.name} {dist.version} ({entry_point.value})" if dist else entry_point.value
        _add_source(sources, entry_point.name, lambda ep=entry_point: ep.load(), origin)
    for file in plugin_files:
        path = Path(file).expanduser().resolve()
        _add_source(sources, path.stem, lambda p=path: _load_file(p), str(path))
    return sources


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    found = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    only = os.environ.get("GANLAB_PLUGINS")
    if only:
        wanted = {name.strip() for name in only.split(",")}
        found = [ep for ep in found if ep.name in wanted]
    return found


def _add_source(sources: dict[str, PluginSource], name: str, load, origin: str) -> None:
    if name in sources:
        raise PluginError(
            f'Two plugins are named "{name}": {sources[name].origin} and {origin}. Plugin names '
            f"must be unique: uninstall one, or rename the file or entry point of the other."
        )
    try:
        module = load()
    except PluginError:
        raise
    except Exception as exc:  # a plugin's import error must not look like a ganlab crash
        raise PluginError(
            f'Error importing plugin "{name}" ({origin}): {type(exc).__name__}: {exc}. Fix the '
            f"plugin, or leave it out (GANLAB_PLUGINS=name,... limits which installed plugins load)."
        ) from exc
    sources[name] = PluginSource(name, module, origin)


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
        _register(pm, sources[name])
    _check_hook_names(pm)
    _check_required_hooks(pm, variant)
    if os.environ.get("GANLAB_TRACE_PLUGINS"):
        trace_hook_calls(pm)
    return pm


def _register(pm: pluggy.PluginManager, source: PluginSource) -> None:
    if pm.is_registered(source.module):
        raise PluginError(f'Plugin "{source.name}" is named twice in --variant; name it once.')
    try:
        pm.register(source.module, name=source.name)
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f'Plugin "{source.name}" ({source.origin}) breaks the hook contract: '
            f"{' '.join(str(exc).split())}. A hook implementation may take only arguments that "
            f"its spec in ganlab/hookspecs.py lists."
        ) from exc


def _unknown_variant_message(name: str, sources: dict[str, PluginSource]) -> str:
    known = ", ".join(sorted(sources)) or "none are installed"
    close = difflib.get_close_matches(name, sources, n=1)
    hint = f' Did you mean "{close[0]}"?' if close else ""
    return (
        f'Unknown variant "{name}".{hint} Known variants: {known}. Run `ganlab variants` to list '
        f"them, or load your own with --plugin path/to/file.py."
    )


def _check_hook_names(pm: pluggy.PluginManager) -> None:
    """Refuse a hook implementation whose name is not in the contract (usually a typo)."""
    known = [name for name in dir(hookspecs) if name.startswith("ganlab_")]
    for plugin_name, plugin in pm.list_name_plugin():
        for attr in dir(plugin):
            if attr.startswith("ganlab_") and _is_hookimpl(getattr(plugin, attr)) and attr not in known:
                close = difflib.get_close_matches(attr, known, n=1)
                hint = f' Did you mean "{close[0]}"?' if close else ""
                raise PluginError(
                    f'Plugin "{plugin_name}" implements "{attr}", which is not a ganlab hook.{hint} '
                    f"The hooks are listed in ganlab/hookspecs.py; rename the function."
                )


def _check_required_hooks(pm: pluggy.PluginManager, variant: str) -> None:
    for hook_name in REQUIRED_HOOKS:
        if not getattr(pm.hook, hook_name).get_hookimpls():
            what = hook_name.removeprefix("ganlab_")
            raise PluginError(
                f'Variant "{variant}" provides no {what}: no plugin in it implements {hook_name}. '
                f"Combine it with a plugin that builds networks, e.g. --variant gan+{variant}."
            )


def plugin_settings(pm: pluggy.PluginManager) -> dict[str, tuple[Any, str, str]]:
    """Every setting the registered plugins declare: ``{name: (default, help, plugin name)}``."""
    declared: dict[str, tuple[Any, str, str]] = {}
    seen = set()
    for impl in pm.hook.ganlab_settings.get_hookimpls():
        function = getattr(impl.function, "__wrapped__", impl.function)
        if function in seen:  # one plugin re-exporting another's hook (cgan uses gan's)
            continue
        seen.add(function)
        for name, (default, help_text) in (impl.function() or {}).items():
            if name in declared:
                raise PluginError(
                    f'Plugins "{declared[name][2]}" and "{impl.plugin_name}" both declare the '
                    f'setting "{name}"; rename one of them.'
                )
            declared[name] = (default, help_text, impl.plugin_name)
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
        return raw
    text = str(raw).strip()
    try:
        if kind is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        return kind(text)
    except (TypeError, ValueError):
        raise ConfigError(
            f'Setting "{name}" must be a {kind.__name__} (like its default {default!r}), not {raw!r}.'
        ) from None


def trace_hook_calls(pm: pluggy.PluginManager, out=None) -> None:
    """Print, for every hook call, which plugin answered it (``GANLAB_TRACE_PLUGINS=1``)."""
    for hook_name in (name for name in dir(pm.hook) if name.startswith("ganlab_")):
        for impl in getattr(pm.hook, hook_name).get_hookimpls():
            impl.function = _traced(impl.function, hook_name, impl.plugin_name, out)


def _traced(function, hook_name: str, plugin_name: str, out):
    @functools.wraps(function)
    def traced(*args, **kwargs):
        result = function(*args, **kwargs)
        if result is not None:
            print(f"[ganlab trace] {hook_name}: answered by {plugin_name} -> "
                  f"{type(result).__name__}", file=out or sys.stderr)
        return result

    return traced
