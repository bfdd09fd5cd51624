"""Fixtures for the adapter tests: a tiny SAM and autograd probes."""
import contextlib

import pytest
import torch

import epsam  # noqa: F401
from epsam.models.sam import build_sam


@pytest.fixture
def tiny_sam():
    """Randomly initialised ``tiny`` SAM (256 px, embed_dim 64, 2 blocks, grid 16)."""
    torch.manual_seed(0)
    return build_sam('tiny')


@pytest.fixture
def tiny_images():
    """Two RGB images on the 0-255 scale, (2, 3, 256, 256)."""
    generator = torch.Generator().manual_seed(1)
    return torch.rand(2, 3, 256, 256, generator=generator) * 255


@pytest.fixture
def encoder_input(tiny_sam, tiny_images):
    """SAM-normalised encoder input of ``tiny_images`` (already at SAM's 256 px)."""
    return (tiny_images - tiny_sam.pixel_mean) / tiny_sam.pixel_std


@contextlib.contextmanager
def _count_saved_tensors():
    """Count the tensors autograd saves for backward inside the block."""
    counter = {'tensors': 0, 'bytes': 0}

    def pack(tensor):
        counter['tensors'] += 1
        counter['bytes'] += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        yield counter


@pytest.fixture
def count_saved_tensors():
    """Context-manager factory: ``with count_saved_tensors() as counter: ...``."""
    return _count_saved_tensors


def _watch_backward(modules):
    """Register full backward hooks; return (list of names that fired, handles)."""
    fired = []
    handles = [module.register_full_backward_hook(
        lambda mod, grad_in, grad_out, name=name: fired.append(name))
        for name, module in modules.items()]
    return fired, handles


@pytest.fixture
def watch_backward():
    """``fired = watch_backward({name: module})``: the names whose backward hook ran."""
    created = []

    def watch(modules):
        fired, handles = _watch_backward(modules)
        created.extend(handles)
        return fired

    yield watch
    for handle in created:
        handle.remove()
