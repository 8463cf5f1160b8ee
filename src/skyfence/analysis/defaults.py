"""Defaults of the analysis runs, in a module light enough for the CLI to import at start."""

__all__ = ["DEFAULT_FOOTPRINT_KM", "DEFAULT_START"]

#: The default start of a what-if or coverage window: fixed, so that reports are reproducible.
DEFAULT_START = "2026-02-22T12:00:00Z"
#: Beam footprint radius for spillover, km: the circumradius of an H3 resolution-5 cell + 2 km.
DEFAULT_FOOTPRINT_KM = 12.0
