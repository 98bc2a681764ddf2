"""ganlab's built-in variants. Each module is a plugin, registered through the ``ganlab`` entry-point
group exactly like a third party's plugin (see pyproject.toml)."""
