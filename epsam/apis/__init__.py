"""epsam's face for scripts and tools, as ``mmseg.apis``: configs in, models out."""
from .inference import count_trainable_params, init_model, init_sam, load_config

__all__ = ['init_model', 'init_sam', 'load_config', 'count_trainable_params']
