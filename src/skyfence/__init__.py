"""skyfence: simulate, decide and account for where a satellite-internet network is switched on."""

from importlib.metadata import PackageNotFoundError, version

from skyfence.errors import SkyfenceError

try:
    __version__ = version("skyfence")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = ["SkyfenceError", "__version__"]
