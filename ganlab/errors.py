"""User-facing errors.

Anything a user can cause (a bad option, a missing file, a plugin that breaks the contract) raises a
subclass of :class:`GanlabError` whose text is one paragraph: what is wrong and how to fix it. The CLI
turns these into a clean message and a non-zero exit code instead of a traceback.
"""


class GanlabError(Exception):
    """Base class of every error whose message is meant for the user."""

    exit_code = 1  # the command's exit status when it ends with this error


class ConfigError(GanlabError):
    """A setting is unknown or out of range."""


class DataError(GanlabError):
    """A dataset could not be found, downloaded, verified or read."""


class PluginError(GanlabError):
    """A plugin failed to load or broke the plugin contract."""


class CheckpointError(GanlabError):
    """A run folder or checkpoint is missing, corrupt or does not match."""


class DivergenceError(GanlabError):
    """Training produced non-finite losses or weights."""


class Interrupted(GanlabError):
    """The user stopped a command at once (a second Ctrl-C), in the middle of its work."""

    exit_code = 130  # 128 + SIGINT, as a shell reports a process stopped by Ctrl-C


class WriteError(GanlabError):
    """A file could not be written (a full disk, a size limit, no permission, a path through a file)."""
