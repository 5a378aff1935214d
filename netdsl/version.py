"""The package version, in one place (the import hook keys its cache on it)."""
__version__ = "0.1.0"
