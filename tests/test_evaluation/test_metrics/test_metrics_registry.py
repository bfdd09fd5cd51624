"""Every metric epsam.evaluation registers builds from a config and evaluates."""
import math

import pytest
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope

import epsam.evaluation  # noqa: F401  (registers the metrics)
from epsam.registry import METRICS

#: The smallest config of each metric in epsam.evaluation; a new one must be added here.
MINIMAL_CONFIGS = {
    'PerImageDiceMetric': dict(type='PerImageDiceMetric'),
    'WSSSIoUMetric': dict(type='WSSSIoUMetric', protocol='exclude_background'),
    'PatchClassificationMetric': dict(type='PatchClassificationMetric'),
}
#: Metrics of segmentation maps (the patch-label metric has its own tests).
SEG_METRICS = ('PerImageDiceMetric', 'WSSSIoUMetric')
META = dict(classes=('TUM', 'STR', 'BACK'), background_index=2)


def _evaluation_metrics():
    """Names of the metrics defined under epsam.evaluation (other packages register too)."""
    return {name for name, cls in METRICS.module_dict.items()
            if cls.__module__.startswith('epsam.evaluation.')}


def test_every_registered_metric_has_a_config():
    assert _evaluation_metrics(), 'epsam.evaluation registers no metric'
    assert _evaluation_metrics() == set(MINIMAL_CONFIGS)


@pytest.mark.parametrize('name', SEG_METRICS)
def test_registered_metric_runs_in_an_evaluator(name, sample_factory):
    with DefaultScope.overwrite_default_scope('epsam'):
        evaluator = Evaluator(MINIMAL_CONFIGS[name])
    assert type(evaluator.metrics[0]) is METRICS.get(name)
    evaluator.dataset_meta = META
    gt = [[0, 1], [2, 255]]
    evaluator.process(data_samples=[sample_factory([[0, 1], [2, 2]], gt)], data_batch=None)
    metrics = evaluator.evaluate(1)
    assert metrics and all(isinstance(v, (int, float)) for v in metrics.values())
    assert not any(math.isnan(v) for v in metrics.values())
