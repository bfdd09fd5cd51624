"""Tiny synthetic patches for classifier tests: pink noise, positives carry a dark disc."""
from typing import List, Tuple

import torch
from mmseg.structures import SegDataSample

BACKGROUND_BGR = (0.85, 0.70, 0.90)
BLOB_BGR = (0.50, 0.20, 0.35)


def make_patches(count: int, size: int, generator: torch.Generator, radius: int = 10
                 ) -> Tuple[List[torch.Tensor], List[float], List[torch.Tensor]]:
    """``count`` uint8 BGR patches (3, size, size); even indices hold a disc.

    Returns:
        images, labels (1.0 with a disc), disc masks (bool, (size, size)).
    """
    rows, cols = torch.meshgrid(torch.arange(size), torch.arange(size), indexing='ij')
    images, labels, masks = [], [], []
    for index in range(count):
        image = torch.tensor(BACKGROUND_BGR).view(3, 1, 1).repeat(1, size, size)
        image += 0.05 * torch.randn(3, size, size, generator=generator)
        mask = torch.zeros(size, size, dtype=torch.bool)
        if index % 2 == 0:
            cy, cx = torch.randint(radius + 4, size - radius - 4, (2, ), generator=generator)
            mask = (rows - cy)**2 + (cols - cx)**2 <= radius**2
            noise = 0.05 * torch.randn(3, int(mask.sum()), generator=generator)
            image[:, mask] = torch.tensor(BLOB_BGR).view(3, 1) + noise
        images.append((image.clamp(0, 1) * 255).round().to(torch.uint8))
        labels.append(float(index % 2 == 0))
        masks.append(mask)
    return images, labels, masks


def make_samples(labels: List[float]) -> List[SegDataSample]:
    """Data samples carrying a one-class ``gt_label``."""
    samples = []
    for label in labels:
        sample = SegDataSample()
        sample.set_data(dict(gt_label=torch.tensor([label])))
        samples.append(sample)
    return samples
