"""Data transforms for patch datasets."""
