"""A progress bar that can be switched off (mmengine's, imported when used)."""

__all__ = ['progress_bar']


class _Silent:

    def update(self, num_tasks: int = 1) -> None:
        pass


def progress_bar(total: int, enabled: bool = True):
    """mmengine's ``ProgressBar`` over ``total`` tasks, or a silent stand-in."""
    if not enabled or total <= 0:
        return _Silent()
    from mmengine.utils import ProgressBar
    return ProgressBar(total)
