"""cams."""
