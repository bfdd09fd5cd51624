"""Run a script as ``__main__`` with a pause after every item it finishes.

Usage::

    python paced.py SECONDS TARGET SCRIPT [ARGS...]

``TARGET`` is ``package.module:Class.method`` (or ``package.module:function``),
the call that marks one finished item (a record, a cached tile). After each
call the process sleeps ``SECONDS``. The pause stands in for a slower model:
with tiny models on a fast, idle machine a tool can finish every remaining
item between the poll that sees the kill point and the signal, and the kill
would land after the run instead of inside it.
"""
import importlib
import runpy
import sys
import time
from functools import wraps


def pace(target: str, seconds: float) -> None:
    """Wrap ``target`` so every call is followed by ``time.sleep(seconds)``."""
    module_name, _, attribute_path = target.partition(':')
    owner = importlib.import_module(module_name)
    *parents, name = attribute_path.split('.')
    for parent in parents:
        owner = getattr(owner, parent)
    original = getattr(owner, name)

    @wraps(original)
    def paced(*args, **kwargs):
        result = original(*args, **kwargs)
        time.sleep(seconds)
        return result

    setattr(owner, name, paced)


def main() -> None:
    seconds, target, script, *args = sys.argv[1:]
    pace(target, float(seconds))
    sys.argv = [script, *args]
    runpy.run_path(script, run_name='__main__')


if __name__ == '__main__':
    main()
