"""The pipeline log's step numbers and time-left estimates."""
import io

from epsam.pipeline.stage_clock import StageClock, format_duration, stage_kind
from epsam.utils.progress import progress_bar

STAGES = ['step1_classifier', 'step2_cams', 'step4_sam_tuning_iter0',
          'step5_pseudo_labels_iter1', 'step6_sam_tuning_iter1', 'step7_evaluation']


def test_stage_kind_drops_the_iteration():
    assert stage_kind('step6_sam_tuning_iter12') == 'sam_tuning'
    assert stage_kind('step4_sam_tuning_iter0') == 'sam_tuning'
    assert stage_kind('step2_cams') == 'cams'


def test_format_duration():
    assert format_duration(42.4) == '42 s'
    assert format_duration(185) == '3 min 05 s'
    assert format_duration(7620) == '2 h 07 min'


def test_steps_are_numbered_in_plan_order():
    clock = StageClock(STAGES, lambda stage: None)
    assert clock.step('step1_classifier') == 'step 1/6 step1_classifier'
    assert clock.step('step6_sam_tuning_iter1') == 'step 5/6 step6_sam_tuning_iter1'
    assert clock.step('not_planned') == 'not_planned'


def test_remaining_time_comes_from_finished_stages_of_the_same_kind():
    earlier = {'step1_classifier': 30.0, 'step2_cams': 10.0}
    clock = StageClock(STAGES, earlier.get)
    assert clock.remaining('step2_cams') == (
        '4 step(s) left (not yet timed: sam_tuning, pseudo_labels, evaluation)')
    clock.finished('step4_sam_tuning_iter0', 120.0)
    # iteration 1's tuning is estimated from iteration 0's: a lower bound while
    # pseudo-labelling and evaluation have never run.
    assert clock.remaining('step4_sam_tuning_iter0') == (
        '3 step(s) left, at least 2 min 00 s (not yet timed: pseudo_labels, evaluation)')
    clock.finished('step5_pseudo_labels_iter1', 60.0)
    clock.finished('step7_evaluation', 5.0)  # e.g. from an earlier run's record
    assert clock.remaining('step5_pseudo_labels_iter1') == '2 step(s) left, about 2 min 05 s'
    assert clock.remaining('step7_evaluation') == 'nothing left'


class _Terminal(io.StringIO):

    def isatty(self) -> bool:
        return True


def test_progress_in_a_log_file_is_a_line_per_tenth():
    out = io.StringIO()
    bar = progress_bar(20, label='CAMs: ', file=out)
    for _ in range(20):
        bar.update()
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and '\r' not in out.getvalue()
    assert lines[0].startswith('CAMs: 2/20 (10%)') and lines[-1].startswith('CAMs: 20/20 (100%)')


def test_progress_on_a_terminal_ends_its_line_once():
    out = _Terminal()
    bar = progress_bar(3, file=out)
    bar.update(0)  # a batch with nothing new to count
    for _ in range(3):
        bar.update()
    bar.close()
    assert out.getvalue().count('\n') == 1 and out.getvalue().endswith('s\n')

    interrupted = _Terminal()
    bar = progress_bar(5, file=interrupted)
    bar.update()
    bar.close()
    bar.close()
    assert interrupted.getvalue().count('\n') == 1


def test_no_progress_when_disabled_or_empty():
    out = _Terminal()
    for bar in (progress_bar(5, enabled=False, file=out), progress_bar(0, file=out)):
        bar.update()
        bar.close()
    assert out.getvalue() == ''
