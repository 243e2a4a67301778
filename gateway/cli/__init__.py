"""The ``urbanops`` command (``main``): one module per command group; the only place simulators are composed."""
