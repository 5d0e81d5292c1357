"""Experiment specs shipped with gesbench (one TOML file each)."""
