"""The version of the baton Python package (kept equal to the library's MAJOR.MINOR.PATCH)."""

__version__ = "0.1.0"
