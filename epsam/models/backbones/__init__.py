"""models/backbones."""
