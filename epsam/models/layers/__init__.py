"""Building blocks shared by the classifier: ADL and the high-frequency channel."""
from .adl import ADL
from .frequency_residual import HighFrequencyChannel, high_frequency_residual

__all__ = ['ADL', 'HighFrequencyChannel', 'high_frequency_residual']
