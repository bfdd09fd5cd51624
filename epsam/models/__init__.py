"""Models: SAM wrappers, ADL backbones, CAM heads and classifiers.

Importing this package registers mmseg's models in the parent registry too,
so a config in the ``epsam`` scope can name any mmseg model, and makes
mmengine's loader of local checkpoints pass ``weights_only=True`` explicitly
(:mod:`epsam.engine.checkpoint_loading`).
"""
import mmseg.models  # noqa: F401  (fills the parent registry)

from epsam.engine.checkpoint_loading import install_weights_only_checkpoint_loader

from .adapters import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .layers import *  # noqa: F401,F403
from .sam import *  # noqa: F401,F403

install_weights_only_checkpoint_loader()
