"""groundctl: drone-fleet ground control and thermal search for SAR and police air units."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("groundctl")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
