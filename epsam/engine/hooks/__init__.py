"""mmengine hooks."""
import mmseg.engine  # noqa: F401  (fills the parent registries)
