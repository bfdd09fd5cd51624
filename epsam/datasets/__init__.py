"""Patch-level datasets, the pseudo-label dataset and the synthetic generator."""
import mmseg.datasets  # noqa: F401  (fills the parent registries)
