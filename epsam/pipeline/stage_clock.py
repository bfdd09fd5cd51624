"""Step k of N, and an estimate of the time left, for the pipeline's log."""
import re
from typing import Callable, Dict, List, Optional, Sequence

__all__ = ['StageClock', 'format_duration', 'stage_kind']

_ITERATION = re.compile(r'_iter\d+$')
_STEP = re.compile(r'^step\d+_')


def stage_kind(stage: str) -> str:
    """The stage without its step and iteration: ``step6_sam_tuning_iter2`` and
    ``step4_sam_tuning_iter0`` -> ``sam_tuning``."""
    return _STEP.sub('', _ITERATION.sub('', stage))


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 05 s`` or ``2 h 07 min``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f'{seconds} s'
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f'{minutes} min {seconds:02d} s'
    hours, minutes = divmod(minutes, 60)
    return f'{hours} h {minutes:02d} min'


class StageClock:
    """Numbers the stages of a run and estimates the time the rest will take.

    A stage not yet finished is estimated by the mean duration of the
    finished stages of its kind (the same stage in other iterations), from
    this run and from the records of earlier runs in the work dir. Kinds with
    no finished stage yet are named instead of guessed, and the estimate is
    then a lower bound.

    Args:
        stages: Every stage of the run, in order.
        seconds_of: The recorded duration of a stage finished earlier, or
            ``None`` (e.g. read from the stage ledger).
    """

    def __init__(self, stages: Sequence[str],
                 seconds_of: Callable[[str], Optional[float]]) -> None:
        self.stages: List[str] = list(stages)
        self._seconds: Dict[str, float] = {}
        for stage in self.stages:
            seconds = seconds_of(stage)
            if seconds is not None:
                self._seconds[stage] = float(seconds)

    def step(self, stage: str) -> str:
        """``step k/N stage`` (or just the stage when it is not in the plan)."""
        if stage not in self.stages:
            return stage
        return f'step {self.stages.index(stage) + 1}/{len(self.stages)} {stage}'

    def finished(self, stage: str, seconds: float) -> None:
        """Record that ``stage`` took ``seconds``."""
        self._seconds[stage] = float(seconds)

    def remaining(self, after: str) -> str:
        """Words for the time the stages after ``after`` should take."""
        if after not in self.stages:
            return ''
        later = self.stages[self.stages.index(after) + 1:]
        if not later:
            return 'nothing left'
        by_kind: Dict[str, List[float]] = {}
        for stage, seconds in self._seconds.items():
            by_kind.setdefault(stage_kind(stage), []).append(seconds)
        known, untimed = 0.0, []
        for stage in later:
            durations = by_kind.get(stage_kind(stage))
            if durations:
                known += sum(durations) / len(durations)
            elif stage_kind(stage) not in untimed:
                untimed.append(stage_kind(stage))
        steps = f'{len(later)} step(s) left'
        if not untimed:
            return f'{steps}, about {format_duration(known)}'
        bound = f', at least {format_duration(known)}' if known else ''
        return f"{steps}{bound} (not yet timed: {', '.join(untimed)})"
