"""Turn mmengine's "X is not in the ... registry" errors into "did you mean ...?" hints.

A config with a typo in a ``type`` name fails deep inside mmengine with a
``KeyError`` that says the name is unknown but not what was meant.
:func:`unknown_type_message` finds the registry the error names, collects the
names it (and its parents) can build, and suggests the closest ones with
:mod:`difflib`. The command-line tools wrap their work in
:func:`explain_unknown_types`, so the user reads::

    error: Unknown type 'CAMClasifier' in the model registry; did you mean 'CAMClassifier'?
"""
import difflib
import re
from contextlib import contextmanager
from typing import Iterator, List, Optional, Sequence

from mmengine.registry import Registry

import epsam.registry as epsam_registry

from .cli import ToolError

__all__ = ['registered_names', 'suggest_names', 'find_registry', 'unknown_type_message',
           'explain_unknown_types']

# mmengine 0.10: '{type} is not in the {scope}::{name} registry.' (build_from_cfg) and
# '{type} is not in the {name} registry.' (runner / scheduler builders).
_UNKNOWN_TYPE = re.compile(
    r'(?P<type>[\w.]+) is not in the (?:(?P<scope>[\w-]+)::)?(?P<name>[\w ]+?) registry')


def _known_registries() -> List[Registry]:
    """Every registry epsam configs can reach: epsam's (label parsers too) and their parents."""
    found: List[Registry] = []
    roots = [value for value in vars(epsam_registry).values() if isinstance(value, Registry)]
    for registry in roots:
        while registry is not None:
            if all(registry is not seen for seen in found):
                found.append(registry)
            registry = registry.parent
    return found


def registered_names(registry: Registry) -> List[str]:
    """Sorted names ``registry`` can build: its own and its parents' (lazy modules imported).

    Args:
        registry: An mmengine registry.
    """
    names = set()
    while registry is not None:
        registry.import_from_location()
        names.update(registry.module_dict)
        registry = registry.parent
    return sorted(names)


def suggest_names(name: str, candidates: Sequence[str], limit: int = 3,
                  cutoff: float = 0.6) -> List[str]:
    """The registered names closest to ``name``, best first (case-insensitive).

    Args:
        name: The unknown type name.
        candidates: Names to choose from.
        limit: At most this many suggestions.
        cutoff: Smallest :class:`difflib.SequenceMatcher` ratio accepted.
    """
    by_lower = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    short = name.split('.')[-1].lower()
    matches = difflib.get_close_matches(short, list(by_lower), n=limit, cutoff=cutoff)
    return [by_lower[match] for match in matches]


def find_registry(name: str, scope: Optional[str] = None) -> Optional[Registry]:
    """The known registry called ``name`` (in ``scope`` when given; epsam's first)."""
    matches = [r for r in _known_registries() if r.name == name]
    if scope is not None:
        scoped = [r for r in matches if r.scope == scope]
        matches = scoped or matches
    return matches[0] if matches else None


def _messages(error: BaseException) -> Iterator[str]:
    """The messages of ``error`` and of the errors it was raised from."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield str(error.args[0]) if error.args else str(error)
        error = error.__cause__ or error.__context__


def unknown_type_message(error: BaseException) -> Optional[str]:
    """A "did you mean" message for an unknown-type error, or ``None`` for other errors.

    Args:
        error: An exception, typically mmengine's ``KeyError`` from a build
            (possibly wrapped as ``class `X` in module: ...`` by a parent build).

    Returns:
        ``"Unknown type 'CAMClasifier' in the model registry; did you mean
        'CAMClassifier'?"``, or a line saying no registered name is close.
    """
    for message in _messages(error):
        match = _UNKNOWN_TYPE.search(message)
        if match is None:
            continue
        type_name, registry_name = match.group('type'), match.group('name')
        registry = find_registry(registry_name, match.group('scope'))
        head = f"Unknown type '{type_name}' in the {registry_name} registry"
        if registry is None:
            return f'{head}; check the spelling and custom_imports of your config'
        names = registered_names(registry)
        close = suggest_names(type_name, names)
        if not close:
            return (f'{head}; no registered name is close ({len(names)} registered); check '
                    'the spelling, or custom_imports for your own modules')
        quoted = [f"'{c}'" for c in close]
        options = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"
        return f'{head}; did you mean {options}?'
    return None


@contextmanager
def explain_unknown_types() -> Iterator[None]:
    """Re-raise an unknown-type error as ``ToolError('...did you mean...')`` (exit 2).

    Other errors pass through unchanged. Used by ``tools/train.py``,
    ``tools/test.py`` and ``tools/run_pipeline.py``.
    """
    try:
        yield
    except (KeyError, ValueError, TypeError, RuntimeError) as error:
        hint = unknown_type_message(error)
        if hint is None:
            raise
        raise ToolError(hint) from error
