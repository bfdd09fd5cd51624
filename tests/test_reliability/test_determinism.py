"""Same seed, same data, same machine: identical prompts and SAM masks on CPU.

The tiny pipeline run twice (CAMs, pseudo-labels, weights, metrics) is
compared in ``test_kill_pipeline.py::test_pipeline_is_deterministic_on_cpu``.
"""
import numpy as np
import pytest

from epsam.fileio.items import items_from_cam_dir
from epsam.models.sam import build_sam
from epsam.pseudo_labels.sam_inference import BatchedSamPredictor

pytestmark = pytest.mark.faults


def predictions(cam_tree, seed, batch_size):
    sam = build_sam('tiny', checkpoint=str(cam_tree / 'sam.pth'))
    predictor = BatchedSamPredictor(sam, dict(type='ProbabilisticPointPrompt', num_points=20),
                                    batch_size=batch_size, seed=seed)
    items = items_from_cam_dir(str(cam_tree / 'img'), str(cam_tree / 'cams'))
    return list(predictor.predict(items))


def test_prompts_and_masks_repeat_bit_for_bit(cam_tree):
    first, second = predictions(cam_tree, 0, 2), predictions(cam_tree, 0, 2)
    assert len(first) == len(second) == 8
    for a, b in zip(first, second):
        assert a.prompts.num_points == 20
        np.testing.assert_array_equal(a.prompts.point_coords, b.prompts.point_coords)
        np.testing.assert_array_equal(a.prompts.point_labels, b.prompts.point_labels)
        np.testing.assert_array_equal(a.mask, b.mask)
        assert a.predicted_iou == b.predicted_iou
    # Prompts depend on (seed, image) only: not on the batch, and they do change with the seed.
    for a, b in zip(first, predictions(cam_tree, 0, 3)):
        np.testing.assert_array_equal(a.prompts.point_coords, b.prompts.point_coords)
    other = predictions(cam_tree, 1, 2)
    assert any(not np.array_equal(a.prompts.point_coords, b.prompts.point_coords)
               for a, b in zip(first, other))
