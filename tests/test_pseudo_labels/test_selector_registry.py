"""Every registered pseudo-label selector builds from a config and gives verdicts."""
import numpy as np
import pytest
import torch

from epsam.pseudo_labels import BaseSelector, SelectionResult
from epsam.registry import PSEUDO_LABEL_SELECTORS

PSEUDO_LABEL_SELECTORS.import_from_location()
NAMES = sorted(PSEUDO_LABEL_SELECTORS.module_dict)


def test_registry_is_populated():
    assert {'IDSSelector', 'CAMIoUSelector', 'PredictedIoUSelector',
            'KeepAllSelector'} <= set(NAMES)


@pytest.mark.parametrize('name', NAMES)
def test_build_and_select_from_config(name):
    selector = PSEUDO_LABEL_SELECTORS.build(dict(type=name))
    assert isinstance(selector, BaseSelector) and name in repr(selector)
    cam = np.zeros((8, 8), bool)
    cam[2:6, 2:6] = True
    agreeing = selector(cam.copy(), cam, predicted_iou=0.99)
    assert isinstance(agreeing, SelectionResult)
    assert agreeing.keep is True and 0.9 <= agreeing.score <= 1.0
    batch = selector.select_batch(torch.from_numpy(cam)[None].repeat(2, 1, 1),
                                  torch.from_numpy(cam)[None].repeat(2, 1, 1),
                                  torch.tensor([0.99, 0.99]))
    assert batch.keep.tolist() == [True, True] and batch.scores.shape == (2,)
