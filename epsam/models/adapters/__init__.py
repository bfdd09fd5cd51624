"""SAM adapters: CAD (parallel, the encoder runs without autograd) and the
in-encoder baselines SAM-Adapter, bottleneck adapters and LoRA."""
from .base import (AdapterCompatibilityError, BaseSamAdapter, EncoderSpec, InEncoderSamAdapter,
                   ParallelSamAdapter, get_image_encoder)
from .bottleneck_adapter import Bottleneck, BottleneckAdapter
from .builder import (adapter_class, adapter_supports_cached_embeddings, build_sam_adapter,
                      count_parameters, trainable_parameters)
from .cad import CADAdapter, CADBlock, cad_parameter_count
from .high_pass import high_pass_per_channel, square_side_from_area, square_side_from_ratio
from .lora import LoRAAdapter
from .sam_adapter import SAMAdapter

__all__ = [
    'AdapterCompatibilityError', 'BaseSamAdapter', 'EncoderSpec', 'InEncoderSamAdapter',
    'ParallelSamAdapter', 'get_image_encoder', 'Bottleneck', 'BottleneckAdapter',
    'adapter_class', 'adapter_supports_cached_embeddings', 'build_sam_adapter',
    'count_parameters', 'trainable_parameters', 'CADAdapter', 'CADBlock',
    'cad_parameter_count', 'high_pass_per_channel', 'square_side_from_area',
    'square_side_from_ratio', 'LoRAAdapter', 'SAMAdapter'
]
