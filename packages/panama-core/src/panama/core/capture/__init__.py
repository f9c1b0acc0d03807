"""The capture store: the folder a user works in, built so that no recording is ever lost.

``store`` owns the folder (``Capture``, ``Label``, ``CaptureConfig``: its config, journal,
labels, writer lock and crash repair), ``gear`` the metadata it keeps about what was captured,
and ``knob_dataset`` its import from and export to the knob-conditioned NAM fork's dataset JSON.
Import the module you need; this package imports nothing, so opening one costs only that module.
"""
