"""Visualisation: picture grids and charts."""
import mmseg.visualization  # noqa: F401  (fills the parent registries)
