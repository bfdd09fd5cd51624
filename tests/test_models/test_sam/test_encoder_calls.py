"""encode_frames: one frame per encoder call on a CPU without autograd, same embeddings."""
from contextlib import contextmanager
from typing import Iterator, List

import pytest
import torch

from epsam.models.sam import build_sam
from epsam.models.sam.building import encode_frames
from epsam.models.sam.inference.embedders import EncoderEmbedder


@pytest.fixture(scope='module')
def sam():
    torch.manual_seed(0)
    return build_sam('tiny', pretrained=False).eval()


@contextmanager
def encoder_calls(encoder: torch.nn.Module) -> Iterator[List[int]]:
    """The batch sizes the encoder is called with inside the block."""
    sizes: List[int] = []
    handle = encoder.register_forward_pre_hook(
        lambda _module, args: sizes.append(len(args[0])))
    try:
        yield sizes
    finally:
        handle.remove()


def test_cpu_without_grad_runs_frames_one_by_one_with_the_batched_values(sam):
    frames = torch.randn(3, 3, 256, 256)
    with torch.no_grad():
        batched = sam.image_encoder(frames)
        with encoder_calls(sam.image_encoder) as sizes:
            split = encode_frames(sam.image_encoder, frames)
    assert sizes == [1, 1, 1]
    assert split.shape == batched.shape
    torch.testing.assert_close(split, batched, atol=1e-5, rtol=1e-5)


def test_autograd_keeps_the_batch_whole(sam):
    frames = torch.randn(2, 3, 256, 256, requires_grad=True)
    with encoder_calls(sam.image_encoder) as sizes:
        out = encode_frames(sam.image_encoder, frames)
    assert sizes == [2] and out.requires_grad


def test_encoder_embedder_counts_one_batch_for_per_frame_calls(sam):
    embedder = EncoderEmbedder(sam)
    images = [torch.randint(0, 256, (3, 64, 64), dtype=torch.uint8) for _ in range(2)]
    with encoder_calls(sam.image_encoder) as sizes:
        embeddings = embedder.get_or_compute(images)
    assert sizes == [1, 1] and embeddings.shape[0] == 2
    assert embedder.stats() == dict(encoder_passes=2, encoder_batches=1)
