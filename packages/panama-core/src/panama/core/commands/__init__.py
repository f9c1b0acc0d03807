"""CLI command modules; each exposes ``register(app)`` (see ``panama.core.cli``)."""
