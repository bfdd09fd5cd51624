"""``--show`` / ``--show-dir`` of ``tools/test.py``: draw each test image's result.

As mmsegmentation's ``tools/test.py`` (``trigger_visualization_hook``): the
config's ``default_hooks.visualization`` (a ``SegVisualizationHook``) draws
the ground truth beside the prediction, with the class names and palette of
the test dataset's metainfo; ``--show-dir`` saves them as PNGs under
``{show_dir}/vis_data/vis_image/``, ``--show`` opens a window.
"""
import argparse
from typing import Optional

from mmengine.config import Config

__all__ = ['add_show_arguments', 'enable_visualization']


def add_show_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--show``, ``--show-dir`` and ``--wait-time`` (mmseg's names)."""
    parser.add_argument('--show', action='store_true',
                        help='show each prediction in a window (needs a display)')
    parser.add_argument('--show-dir', help='save each test image drawn with its ground truth '
                        'and prediction here (PNGs in SHOW_DIR/vis_data/vis_image/)')
    parser.add_argument('--wait-time', type=float, default=2,
                        help='--show: seconds each window stays open (default: %(default)s)')


def enable_visualization(cfg: Config, *, show: bool = False, show_dir: Optional[str] = None,
                         wait_time: float = 2.0) -> Config:
    """Turn on the config's visualization hook, adding one if the config has none.

    Args:
        cfg: The test config (changed in place).
        show: Show each drawn image in a window.
        show_dir: Folder for the visualizer's local backend.
        wait_time: Seconds a window stays open with ``show``.

    Returns:
        The config.
    """
    if not (show or show_dir):
        return cfg
    hooks = cfg.setdefault('default_hooks', {})
    hook = hooks.get('visualization') or dict(type='SegVisualizationHook', interval=1)
    hook['draw'] = True
    if show:
        hook.update(show=True, wait_time=wait_time)
    hooks['visualization'] = hook
    if show_dir:
        visualizer = cfg.get('visualizer') or dict(
            type='SegLocalVisualizer', vis_backends=[dict(type='LocalVisBackend')],
            name='visualizer')
        visualizer['save_dir'] = show_dir
        cfg.visualizer = visualizer
    return cfg
