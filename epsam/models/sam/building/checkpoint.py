"""Safe, explained loading of SAM checkpoints.

Checkpoints are always read with ``torch.load(path, map_location='cpu',
weights_only=True)`` (:func:`epsam.engine.checkpoint_loading.read_checkpoint`):
the official ``sam_vit_*.pth`` files are plain state dicts and load that way,
and nothing in a checkpoint can run code. Every
failure raises :class:`SamCheckpointError` with the path and what is wrong,
including which known variant a mismatching checkpoint belongs to.
"""
import re
from collections import Counter
from typing import Dict, Iterable, List, Mapping, Optional, Tuple

import torch
from torch import nn

from epsam.engine.checkpoint_loading import CheckpointError, read_checkpoint
from epsam.utils.errors import UserError

from .architecture import sam_state_dict_shapes
from .tiny_vit import refresh_attention_biases
from .variants import SAM_VARIANTS

__all__ = [
    'SamCheckpointError', 'read_sam_state_dict', 'load_sam_checkpoint',
    'identify_sam_variant', 'describe_sam_state_dict'
]

_SAM_PARTS = ('image_encoder.', 'prompt_encoder.', 'mask_decoder.')
_WRAPPER_KEYS = ('state_dict', 'model')
_MAX_EXAMPLES = 5


class SamCheckpointError(UserError, RuntimeError):
    """A SAM checkpoint is missing, unreadable, unsafe, or does not fit the model."""


def _strip_prefix(state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Drop a common prefix before the SAM parts (e.g. ``sam.`` of a tuning model).

    Keys outside the prefix (for example an adapter beside ``sam.``) are
    dropped. Without a single common prefix the dict is returned unchanged.
    """
    prefixes = set()
    for key in state_dict:
        match = re.search(r'(^|\.)(image_encoder|prompt_encoder|mask_decoder)\.', key)
        if match:
            prefixes.add(key[:match.start(2)])
    if len(prefixes) != 1 or prefixes == {''}:
        return state_dict
    prefix = prefixes.pop()
    return {k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)}


def read_sam_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """Read a SAM state dict from disk without running any pickled code.

    Accepts a plain state dict, or one wrapped under ``state_dict`` or
    ``model`` (mmengine / other trainers); a common key prefix before
    ``image_encoder.`` etc. (such as ``sam.``) is removed.

    Args:
        path: The checkpoint file.

    Returns:
        Map from SAM state-dict key to CPU tensor.

    Raises:
        SamCheckpointError: Missing file, corrupt or truncated file, pickled
            code or objects (refused), or content that is not a state dict.
    """
    path = str(path)
    try:
        obj = read_checkpoint(path)
    except CheckpointError as err:
        raise SamCheckpointError(f'SAM checkpoint {err}') from None

    for wrapper in _WRAPPER_KEYS:
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
            break
    if not isinstance(obj, Mapping):
        raise SamCheckpointError(f'SAM checkpoint {path!r} holds a {type(obj).__name__}, '
                                 'not a state dict (a dict of tensors)')
    not_tensors = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if not_tensors:
        raise SamCheckpointError(f'SAM checkpoint {path!r} is not a state dict: '
                                 f'{len(not_tensors)} entries are not tensors, '
                                 f'e.g. {not_tensors[:_MAX_EXAMPLES]}')
    adapter_keys = [k for k in obj if k.startswith('adapter.')]
    if adapter_keys:
        raise SamCheckpointError(
            f'SAM checkpoint {path!r} is a SamTuningModel checkpoint with a SAM adapter '
            f'({len(adapter_keys)} adapter tensors, e.g. {adapter_keys[0]!r}); a plain SAM '
            'would silently drop the adapter. Build the tuning model from its config instead '
            '(tools/test.py CONFIG CHECKPOINT, or the pipeline), which loads both')
    return _strip_prefix(dict(obj))


def describe_sam_state_dict(shapes: Mapping[str, Tuple[int, ...]]) -> str:
    """A one-line summary of the architecture a state dict implies.

    Args:
        shapes: Map from state-dict key to tensor shape.
    """
    parts = []
    stem = shapes.get('image_encoder.patch_embed.seq.0.c.weight')
    if stem is not None and len(stem) == 4:
        kind = {1: "LiteMedSAM's 1x1", 3: "MobileSAM's 3x3"}.get(stem[2], f'{stem[2]}x{stem[3]}')
        parts.append(f'TinyViT image encoder with {kind} stem')
    patch = shapes.get('image_encoder.patch_embed.proj.weight')
    if patch is not None and len(patch) == 4:
        parts.append(f'image encoder width {patch[0]}, patch {patch[2]} px')
    blocks = {m.group(1) for m in (re.match(r'image_encoder\.blocks\.(\d+)\.', k)
                                   for k in shapes) if m}
    if blocks:
        parts.append(f'{len(blocks)} encoder blocks')
    pos = shapes.get('image_encoder.pos_embed')
    if pos is not None and len(pos) == 4 and patch is not None:
        parts.append(f'input {pos[1] * patch[2]} px')
    token = shapes.get('mask_decoder.iou_token.weight')
    if token is not None and len(token) == 2:
        parts.append(f'prompt/decoder width {token[1]}')
    return ', '.join(parts) if parts else 'no recognisable SAM tensors'


def _without_ignored(shapes: Mapping[str, Tuple[int, ...]], variant) -> Dict[str, Tuple]:
    """Drop the keys a variant's loader ignores (e.g. MobileSAM's unused ImageNet head)."""
    prefixes = tuple(getattr(variant, 'ignored_checkpoint_prefixes', ()))
    if not prefixes:
        return dict(shapes)
    return {k: v for k, v in shapes.items() if not k.startswith(prefixes)}


def identify_sam_variant(shapes: Mapping[str, Tuple[int, ...]],
                         candidates: Optional[Iterable[str]] = None) -> Optional[str]:
    """Name the registered variant whose state dict has exactly these shapes.

    Keys a variant ignores when loading (``ignored_checkpoint_prefixes``)
    do not count.

    Args:
        shapes: Map from state-dict key to tensor shape.
        candidates: Variant names to try; all registered variants by default.

    Returns:
        The variant name, or ``None`` when none fits.
    """
    names = list(SAM_VARIANTS) if candidates is None else list(candidates)
    for name in names:
        variant = SAM_VARIANTS[name]
        mine = _without_ignored(shapes, variant)
        if not _could_be(mine, variant):
            continue
        expected = sam_state_dict_shapes(variant)
        if expected.keys() == mine.keys() and all(
                tuple(expected[k]) == tuple(mine[k]) for k in expected):
            return name
    return None


def _could_be(shapes: Mapping[str, Tuple[int, ...]], variant) -> bool:
    """Cheap pre-check of the encoder family, so no unrelated model is built."""
    tiny_vit = 'image_encoder.patch_embed.seq.0.c.weight' in shapes
    return tiny_vit == (variant.encoder_family == 'tiny_vit')


def _summarise_keys(keys: List[str]) -> str:
    groups = Counter('.'.join(k.split('.')[:2]) for k in keys)
    grouped = ', '.join(f'{g}: {n}' for g, n in groups.most_common(_MAX_EXAMPLES))
    more = ', ...' if len(groups) > _MAX_EXAMPLES else ''
    return f'({grouped}{more}; e.g. {keys[:3]})'


def _model_name(model: nn.Module) -> str:
    variant = getattr(model, 'variant', None)
    return repr(variant.name) if variant is not None else type(model).__name__


def _variant_hint(model: nn.Module, shapes: Mapping[str, Tuple[int, ...]],
                  describe_unknown: bool = True) -> str:
    """Say which variant the checkpoint's shapes fit, or describe them."""
    found = identify_sam_variant(shapes)
    variant = getattr(model, 'variant', None)
    if found is not None:
        if variant is not None and found == variant.name:
            return (f"This checkpoint is a {found} checkpoint; the model was built as "
                    f"{found} with changed settings: build with variant='{found}' and "
                    'no overrides.')
        return f"This checkpoint is a {found} checkpoint; build with variant='{found}'."
    if not describe_unknown:
        return ''
    return (f'It fits none of the known variants ({", ".join(sorted(SAM_VARIANTS))}): '
            f'checkpoint has {describe_sam_state_dict(shapes)}.')


def load_sam_checkpoint(model: nn.Module, path: str, strict: bool = True) -> List[str]:
    """Load a SAM checkpoint into a built model, explaining any mismatch.

    Args:
        model: A ``Sam`` (or any module with SAM's state-dict keys).
        path: The checkpoint file (see :func:`read_sam_state_dict`).
        strict: Refuse missing or unexpected keys. With ``False`` they are
            skipped and returned; shape mismatches are always refused.

    Returns:
        The keys that were missing from or unexpected in the checkpoint
        (empty when ``strict``).

    Raises:
        SamCheckpointError: The file cannot be read (see
            :func:`read_sam_state_dict`), or it does not fit the model.
    """
    state_dict = read_sam_state_dict(path)
    kept = _without_ignored(state_dict, getattr(model, 'variant', None))
    state_dict = {key: state_dict[key] for key in kept}
    shapes = {k: tuple(v.shape) for k, v in state_dict.items()}
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    mismatched = [k for k in expected if k in shapes and shapes[k] != expected[k]]
    missing = [k for k in expected if k not in shapes]
    unexpected = [k for k in shapes if k not in expected]
    header = f'SAM checkpoint {path!r} does not fit the model built as {_model_name(model)}'
    if mismatched:
        examples = '; '.join(f'{k}: checkpoint {shapes[k]} vs model {expected[k]}'
                             for k in mismatched[:3])
        raise SamCheckpointError(f'{header}: {len(mismatched)} tensors differ in shape '
                                 f'({examples}). {_variant_hint(model, shapes)}')
    if strict and (missing or unexpected):
        details = []
        if missing:
            details.append(f'{len(missing)} missing keys {_summarise_keys(missing)}')
        if unexpected:
            details.append(f'{len(unexpected)} unexpected keys {_summarise_keys(unexpected)}')
        hint = _variant_hint(model, shapes, describe_unknown=False)
        raise SamCheckpointError(f'{header}: {"; ".join(details)}. {hint}'.rstrip())
    model.load_state_dict(state_dict, strict=False)
    refresh_attention_biases(model)
    return missing + unexpected
