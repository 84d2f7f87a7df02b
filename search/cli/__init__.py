"""The ``shelf`` command line: one module per command group."""
