"""Compatibility layers for running OpenMMLab on current PyTorch and NumPy."""
