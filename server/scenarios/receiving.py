"""The receiving scenario (being built for issue 7)."""
