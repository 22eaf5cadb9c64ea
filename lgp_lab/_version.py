"""The package version, importable without importing anything else of lgp_lab."""

__version__ = "0.1.0"
