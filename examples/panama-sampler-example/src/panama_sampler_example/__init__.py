"""An example third-party PANAMA sampler: the centre of the knob box, then random settings."""
