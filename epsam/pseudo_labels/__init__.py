"""pseudo_labels."""
