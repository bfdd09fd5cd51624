"""Stage folders numbered by the method's steps; older work dirs refused with the renames."""
import pytest

from epsam.pipeline.stage_names import (LegacyWorkDirError, pseudo_label_stage,
                                        refuse_legacy_work_dir, sam_tuning_stage)


def test_tuning_folders_follow_the_method_steps():
    assert sam_tuning_stage(0) == 'step4_sam_tuning_iter0'  # preliminary tuning
    assert sam_tuning_stage(2) == 'step6_sam_tuning_iter2'  # iterative re-training
    assert pseudo_label_stage(1) == 'step5_pseudo_labels_iter1'  # pseudo-mask selection


def test_work_dir_of_an_older_epsam_is_refused_with_the_renames(tmp_path):
    for name in ('stage1_classifier', 'stage3_sam_tuning_iter0', 'stage3_sam_tuning_iter1',
                 'stage4_pseudo_labels_iter1', 'logs'):
        (tmp_path / name).mkdir()
    with pytest.raises(LegacyWorkDirError) as error:
        refuse_legacy_work_dir(str(tmp_path))
    message = str(error.value)
    assert 'mv stage1_classifier step1_classifier' in message
    assert 'mv stage3_sam_tuning_iter0 step4_sam_tuning_iter0' in message
    assert 'mv stage3_sam_tuning_iter1 step6_sam_tuning_iter1' in message
    assert 'mv stage4_pseudo_labels_iter1 step5_pseudo_labels_iter1' in message
    assert 'logs' not in message


def test_current_or_missing_work_dir_passes(tmp_path):
    (tmp_path / 'step1_classifier').mkdir()
    refuse_legacy_work_dir(str(tmp_path))
    refuse_legacy_work_dir(str(tmp_path / 'not yet made'))
