"""epsam's registries.

Each OpenMMLab registry is a child of mmseg's (and so of mmengine's), so a
config with ``default_scope='epsam'`` builds epsam's classes by type name and
still finds every mmseg and mmengine class. The ``locations`` are imported
lazily the first time a registry is searched, so nothing needs importing by
hand. The last block holds the registries that only the EP-SAM pipeline needs.
"""
from typing import Any

from mmengine.registry import Registry
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import INFERENCERS as MMSEG_INFERENCERS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNER_CONSTRUCTORS as MMSEG_RUNNER_CONSTRUCTORS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS

SCOPE = 'epsam'

# --- children of mmseg's registries -------------------------------------
RUNNERS = Registry('runner', parent=MMSEG_RUNNERS, scope=SCOPE)
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMSEG_RUNNER_CONSTRUCTORS, scope=SCOPE)
LOOPS = Registry('loop', parent=MMSEG_LOOPS, scope=SCOPE)
HOOKS = Registry('hook', parent=MMSEG_HOOKS, scope=SCOPE, locations=['epsam.engine.hooks'])
DATASETS = Registry('dataset', parent=MMSEG_DATASETS, scope=SCOPE, locations=['epsam.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMSEG_DATA_SAMPLERS, scope=SCOPE)
TRANSFORMS = Registry(
    'transform', parent=MMSEG_TRANSFORMS, scope=SCOPE, locations=['epsam.datasets.transforms'])
MODELS = Registry('model', parent=MMSEG_MODELS, scope=SCOPE, locations=['epsam.models'])
MODEL_WRAPPERS = Registry('model_wrapper', parent=MMSEG_MODEL_WRAPPERS, scope=SCOPE)
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMSEG_WEIGHT_INITIALIZERS, scope=SCOPE)
OPTIMIZERS = Registry('optimizer', parent=MMSEG_OPTIMIZERS, scope=SCOPE)
OPTIM_WRAPPERS = Registry('optim_wrapper', parent=MMSEG_OPTIM_WRAPPERS, scope=SCOPE)
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS, scope=SCOPE)
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMSEG_PARAM_SCHEDULERS, scope=SCOPE)
METRICS = Registry('metric', parent=MMSEG_METRICS, scope=SCOPE, locations=['epsam.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMSEG_EVALUATOR, scope=SCOPE,
                     locations=['epsam.evaluation'])
TASK_UTILS = Registry('task util', parent=MMSEG_TASK_UTILS, scope=SCOPE,
                      locations=['epsam.models'])
VISUALIZERS = Registry('visualizer', parent=MMSEG_VISUALIZERS, scope=SCOPE,
                       locations=['epsam.visualization'])
VISBACKENDS = Registry('vis_backend', parent=MMSEG_VISBACKENDS, scope=SCOPE)
LOG_PROCESSORS = Registry('log_processor', parent=MMSEG_LOG_PROCESSORS, scope=SCOPE)
INFERENCERS = Registry('inferencer', parent=MMSEG_INFERENCERS, scope=SCOPE)

# --- epsam's own pipeline stages ---------------------------------------
#: SAM model builders (``vit_b``, ``vit_l``, ``vit_h``, ``tiny``).
SAM_BUILDERS = Registry('sam builder', scope=SCOPE, locations=['epsam.models.sam'])
#: Ways to turn a classifier into class activation maps (CAM, Grad-CAM, ...).
CAM_METHODS = Registry('cam method', scope=SCOPE, locations=['epsam.cams'])
#: CAM -> binary initial mask (percentile, fixed, Otsu thresholds, ...).
MASK_MAKERS = Registry('initial mask maker', scope=SCOPE, locations=['epsam.cams'])
#: CAM / mask -> SAM prompts (points, boxes, dense masks).
PROMPT_GENERATORS = Registry('prompt generator', scope=SCOPE, locations=['epsam.prompts'])
#: Accept or reject a SAM mask as a pseudo-label (IDS, IoU, ...).
PSEUDO_LABEL_SELECTORS = Registry(
    'pseudo-label selector', scope=SCOPE, locations=['epsam.pseudo_labels'])
#: Image-level labels from file names or tables (``CamelyonLabelParser``, ...).
LABEL_PARSERS = Registry('label parser', scope=SCOPE,
                         locations=['epsam.datasets.label_parsers'])


def build_if_config(registry: Registry, cfg_or_obj: Any) -> Any:
    """``registry.build(cfg)`` for a config dict; anything else is returned as is.

    For arguments that take either a config or an already built component
    (prompt generators, selectors, CAM methods, mask makers).
    """
    return registry.build(cfg_or_obj) if isinstance(cfg_or_obj, dict) else cfg_or_obj
