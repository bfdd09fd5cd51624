"""The names of the pipeline's stage folders: defined here once, used by every module.

They are numbered by the steps of the EP-SAM method: 1 classifier, 2 CAMs and
initial masks, (3 point prompts, made on the fly by the later steps),
4 preliminary SAM tuning, 5 pseudo-mask selection, 6 iterative re-training,
7 inference and evaluation. Work dirs of epsam before 2026-12-06 used
``stage1_classifier`` ... ``stage5_evaluation``; such a work dir is refused
with the renames that make it resumable (:func:`refuse_legacy_work_dir`).
"""
import os
import os.path as osp
import re
from typing import Optional

from epsam.utils.errors import UserError

__all__ = ['CLASSIFIER_STAGE', 'CAM_STAGE', 'EVALUATION_STAGE', 'STAGE_NAMES_HELP',
           'sam_tuning_stage', 'pseudo_label_stage', 'LegacyWorkDirError', 'refuse_legacy_work_dir']

CLASSIFIER_STAGE = 'step1_classifier'
CAM_STAGE = 'step2_cams'
EVALUATION_STAGE = 'step7_evaluation'
#: The stage names, for ``--help`` texts.
STAGE_NAMES_HELP = ('step1_classifier, step2_cams, step4_sam_tuning_iter0, then for N in '
                    '1..iterations step5_pseudo_labels_iterN and step6_sam_tuning_iterN, '
                    'and step7_evaluation')


def sam_tuning_stage(iteration: int) -> str:
    """The folder of SAM tuning ``iteration``: step 4 (``iteration`` 0, the
    preliminary tuning on the CAM stage's initial masks) or step 6 (re-training)."""
    return f'step{4 if iteration == 0 else 6}_sam_tuning_iter{iteration}'


def pseudo_label_stage(iteration: int) -> str:
    """The folder of the pseudo-labels of ``iteration`` (1 and up)."""
    return f'step5_pseudo_labels_iter{iteration}'


class LegacyWorkDirError(UserError, RuntimeError):
    """A work dir written by an older epsam, with ``stageN_...`` folder names."""


_LEGACY = re.compile(r'^(?:stage1_classifier|stage2_cams|stage5_evaluation|'
                     r'stage3_sam_tuning_iter(?P<tuning>\d+)|'
                     r'stage4_pseudo_labels_iter(?P<pseudo>\d+))$')


def _legacy_rename(folder: str) -> Optional[str]:
    """The current name of an older work dir's stage folder, or ``None``."""
    match = _LEGACY.match(folder)
    if match is None:
        return None
    if match.group('tuning') is not None:
        return sam_tuning_stage(int(match.group('tuning')))
    if match.group('pseudo') is not None:
        return pseudo_label_stage(int(match.group('pseudo')))
    return {'stage1_classifier': CLASSIFIER_STAGE, 'stage2_cams': CAM_STAGE,
            'stage5_evaluation': EVALUATION_STAGE}[folder]


def refuse_legacy_work_dir(work_dir: str) -> None:
    """Refuse a work dir holding stage folders of an older epsam, naming the renames.

    Raises:
        LegacyWorkDirError: ``work_dir`` has ``stageN_...`` folders; the message
            lists the ``mv`` commands that make it resumable.
    """
    if not osp.isdir(work_dir):
        return
    renames = {name: _legacy_rename(name) for name in sorted(os.listdir(work_dir))}
    moves = [f'mv {old} {new}' for old, new in renames.items() if new is not None]
    if moves:
        raise LegacyWorkDirError(
            f'{work_dir}: its stage folders have the names of an older epsam (stageN_...); '
            f"the steps are now numbered as in the method. To resume it, in that folder run: "
            f"{'; '.join(moves)}. Or use another --work-dir")
