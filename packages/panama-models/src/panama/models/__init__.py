"""PANAMA nets and exporters. Importing this package must stay light; torch loads in submodules."""
