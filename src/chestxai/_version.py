"""The package version: a leaf every module may import (``chestxai.__version__`` re-exports it)."""

__version__ = "0.1.0"
