"""Training-engine extensions (hooks)."""
