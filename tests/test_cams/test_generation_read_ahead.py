"""generate_cams on a CPU: preprocessing read ahead in the loader thread, cached NHWC weights.

Neither may change a value: the files equal CAMs computed batch by batch in
the calling thread, and the model leaves with its own weight tensors.
"""
import os

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from test_generation import SIZE, TTA, camelyon_dataset, run, tiny_classifier

import epsam  # noqa: F401
from epsam.cams.batch_compute import build_cam_method, channels_last, compute_cams_and_logits
from epsam.datasets.synthetic import generate_camelyon_like
from epsam.fileio.cam_store import load_cam, quantise_cam

BATCH = 3


@pytest.fixture(scope='module')
def camelyon_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('camelyon'))
    generate_camelyon_like(root, num_train=2, num_val=2, num_test=12, patch_size=SIZE, seed=5)
    return root


def _reference_cams(model, dataset):
    """{stem: stored (quantised) CAM} computed in this thread, batch by batch (positives)."""
    positive = [i for i in range(len(dataset)) if any(dataset.get_data_info(i)['gt_label'])]
    method, cams = build_cam_method(TTA), {}
    for start in range(0, len(positive), BATCH):
        packed = [dataset[i] for i in positive[start:start + BATCH]]
        data = model.data_preprocessor(pseudo_collate(packed), False)
        maps = compute_cams_and_logits(method, model, data['inputs'])[0]
        for sample, cam in zip(data['data_samples'], maps):
            stem = os.path.splitext(os.path.basename(sample.img_path))[0]
            cams[stem] = quantise_cam(cam.float().numpy()).astype(np.float32) / 255.0
    return cams


def test_files_equal_cams_computed_in_the_calling_thread(camelyon_root, tmp_path):
    dataset = camelyon_dataset(camelyon_root)
    model = tiny_classifier()
    report = run(dataset, tmp_path, model=model, batch_size=BATCH)
    expected = _reference_cams(model, dataset)
    assert report.masked == len(expected) > BATCH  # several batches were read ahead
    for stem, cam in expected.items():
        assert np.array_equal(load_cam(str(tmp_path / 'cams' / f'{stem}.npz')).cam, cam)


def test_weight_cache_reuses_copies_and_restores_the_original_tensors():
    model = tiny_classifier()
    inputs = torch.rand(2, 4, 32, 32)
    convs = [p for p in model.parameters() if p.dim() == 4]
    pointers = [p.data_ptr() for p in convs]
    cache = {}
    with channels_last(model, inputs, cache=cache):
        first = [p.data_ptr() for p in convs]
    with channels_last(model, inputs, cache=cache):
        assert [p.data_ptr() for p in convs] == first  # the cached copies, not new ones
    assert [p.data_ptr() for p in convs] == pointers
    assert all(p.is_contiguous() for p in convs)
    with torch.no_grad():
        convs[0].mul_(2)  # a changed weight is converted again
    with channels_last(model, inputs, cache=cache):
        assert torch.equal(convs[0], convs[0].contiguous())
        assert convs[0].is_contiguous(memory_format=torch.channels_last)
        assert convs[0].data_ptr() != first[0]
