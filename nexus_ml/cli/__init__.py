"""The ``nexus-ml`` command line: one thin module per verb group."""
