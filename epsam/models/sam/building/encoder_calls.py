"""How a batch of frames goes through SAM's image encoder: whole on a GPU, one by one on a CPU.

On a GPU a batch is what fills the device. On a CPU it only costs: each
image's activations are paged in fresh in every block, and on this project's
2-core machine an image took 3-10 % longer in batches of 4 than alone with
ViT-B and 13-27 % longer with LiteMedSAM (docs/benchmarks.md, issue 17's
fourth round). The frozen encoder has no batch statistics (the TinyViT's
batch norms stay in eval mode), so splitting the batch changes no value: the
embeddings of ViT-B and LiteMedSAM were bit-identical either way.
"""
import torch
from torch import Tensor, nn

__all__ = ['encode_frames']


def encode_frames(encoder: nn.Module, frames: Tensor) -> Tensor:
    """``encoder(frames)``; on a CPU without autograd, one frame per encoder call.

    With autograd on (an in-encoder adapter being trained) or on a GPU the
    batch goes through in one call.

    Args:
        encoder: A SAM image encoder (in eval mode when frozen).
        frames: Preprocessed frames (B, 3, S, S) on the encoder's device.

    Returns:
        The encoder's output for the batch, (B, C, g, g).
    """
    if frames.device.type != 'cpu' or len(frames) < 2 or torch.is_grad_enabled():
        return encoder(frames)
    return torch.cat([encoder(frame[None]) for frame in frames])
