"""The putaway scenario (being built for issue 7)."""
