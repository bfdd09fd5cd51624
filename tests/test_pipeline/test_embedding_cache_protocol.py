"""The embedding cache over the whole EP-SAM protocol: far fewer encoder passes, same outputs.

A tiny pipeline (1 iteration) runs twice, without and with the cache, and
every ``ImageEncoderViT`` call is counted (the counter of
``tools/benchmarks/protocol_encoder_passes.py``). The SAM tuning runs for
enough epochs that the cache's bound matters: without the cache every epoch
encodes every training image again; with it an image is encoded at most once
per distinct augmented version (RandomFlip x RandomRotate90 give the 8
symmetries of the square) and once per encoder (the untuned stand-in SAM has
other random encoder weights than the tuned ones).
"""
import importlib.util
import json
import os

import pytest

from epsam.datasets.synthetic import generate_camelyon_like
from tests.conftest import REPO_ROOT

TOOL = REPO_ROOT / 'tools' / 'benchmarks' / 'protocol_encoder_passes.py'
SAM_EPOCHS = 10
AUGMENTED_VERSIONS = 8  # the dihedral group of the square


def load_tool():
    spec = importlib.util.spec_from_file_location('protocol_encoder_passes', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def count_files(folder, suffix):
    return sum(name.endswith(suffix) for _, _, names in os.walk(folder) for name in names)


def records(work_dir):
    path = os.path.join(work_dir, 'step5_pseudo_labels_iter1', 'records.jsonl')
    with open(path) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return {row['stem']: (row['status'], row['score'], row['predicted_iou']) for row in rows}


@pytest.mark.slow
def test_cache_encodes_far_less_and_changes_no_output(tmp_path):
    tool = load_tool()
    data_root = str(tmp_path / 'data')
    generate_camelyon_like(data_root, num_train=12, num_val=2, num_test=6, patch_size=64, seed=1)
    common = dict(iterations=1, sam_epochs=SAM_EPOCHS, classifier_epochs=2, num_pictures=2,
                  ids_threshold=0.0)  # keep every pseudo-label: every one is compared
    off_dir, on_dir = str(tmp_path / 'off'), str(tmp_path / 'on')
    off = tool.run_protocol(tool.protocol_config(data_root, cache=False, **common), off_dir)
    on = tool.run_protocol(tool.protocol_config(data_root, cache=True, **common), on_dir,
                           shared_from=off_dir)
    print('\n' + tool.stage_table(off, on).get_string())
    print(tool.dice_table(off, on).get_string())

    train_masks = count_files(os.path.join(off_dir, 'step2_cams', 'train', 'masks'), '.png')
    test_masks = count_files(os.path.join(off_dir, 'step2_cams', 'test', 'masks'), '.png')
    pseudo = count_files(os.path.join(off_dir, 'step5_pseudo_labels_iter1', 'masks'), '.png')
    assert train_masks > 0 and test_masks > 0 and pseudo > 0

    # (a) Without the cache each tuning epoch encodes its whole training set.
    assert off['passes']['step4_sam_tuning_iter0'] == SAM_EPOCHS * train_masks
    assert off['passes']['step6_sam_tuning_iter1'] == SAM_EPOCHS * pseudo
    # With it, no image version is ever encoded twice: one pass per cache entry ...
    entries = count_files(os.path.join(on_dir, 'embedding_cache'), '.emb')
    assert on['passes']['total'] == entries
    # ... and at most 8 versions per training image, 2 encoders per test image.
    bound = AUGMENTED_VERSIONS * train_masks + 2 * test_masks
    assert on['passes']['total'] <= bound
    # Hence the ratio: >= SAM_EPOCHS * (N + K) / (8 N + 2 T), about 2 here
    # (the benchmark tool's 20 epochs and 32 patches give 10x).
    ratio = off['passes']['total'] / on['passes']['total']
    print(f"encoder images: {off['passes']['total']} without cache, {on['passes']['total']} "
          f'with ({entries} cache entries; bound {bound}): {ratio:.1f}x fewer')
    assert ratio >= SAM_EPOCHS * (train_masks + pseudo) / bound
    assert ratio >= 2

    # (b) The same pseudo-labels, byte for byte, and the same selector scores.
    labels = tool.compare_pseudo_labels(off_dir, on_dir, iterations=1)
    assert labels['files'] == pseudo and labels['different'] == []
    assert records(off_dir) == records(on_dir)

    # (c) The same Dice and IoU, to the last bit, for every row of the table.
    assert [row['method'] for row in off['rows']] == [row['method'] for row in on['rows']]
    assert [(r['dice'], r['iou']) for r in off['rows']] == [(r['dice'], r['iou'])
                                                            for r in on['rows']]
