"""The core's own observer plugins: evaluation, progress display, discriminator watchdog.

Each is an ordinary plugin object with ``@hookimpl`` methods, registered per run by
:func:`ganlab.api.register_observers`; a third party's observer is written the same way.
"""
