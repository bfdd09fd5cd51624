"""epsam's import graph has no cycle at file level.

Rule: every ``import`` of an epsam module, at module level or inside a
function, is an arrow from the importing file to the imported file; a
package ``__init__.py`` is a file like any other (its re-exports are arrows
to the files it names). ``from package import name`` points at the
package's ``__init__.py``, or at ``package/name.py`` when that file exists
(a submodule import). The graph of these arrows must be acyclic; a
package's own files may not import its ``__init__.py`` (their face).
"""
import ast
from pathlib import Path
from typing import Dict, List, Set

PACKAGE = Path(__file__).resolve().parents[1] / 'epsam'


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _targets(path: Path, modules: Set[str]) -> Set[str]:
    name = _module_name(path)
    package = name if path.name == '__init__.py' else name.rpartition('.')[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            bases = [alias.name for alias in node.names]
            found.update(base for base in bases if base in modules)
            continue
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = '.'.join(package.split('.')[:len(package.split('.')) - node.level + 1])
            base = f'{base}.{node.module}' if node.module else base
        else:
            base = node.module or ''
        if base not in modules:
            continue
        subs = [f'{base}.{alias.name}' for alias in node.names]
        found.update(sub for sub in subs if sub in modules)
        if any(sub not in modules for sub in subs):
            found.add(base)
    found.discard(name)
    return found


def import_graph() -> Dict[str, Set[str]]:
    """epsam module -> the epsam modules it imports (all of them, lazily or not)."""
    files = {_module_name(path): path for path in PACKAGE.rglob('*.py')}
    return {name: _targets(path, set(files)) for name, path in files.items()}


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One cycle of ``graph`` as a list of modules (first == last), or ``[]``."""
    state: Dict[str, int] = {}
    stack: List[str] = []

    def visit(node: str) -> List[str]:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[node] = 2
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return []


def test_epsam_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert not cycle, 'import cycle: ' + ' -> '.join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) == []
