"""Faithful device emulators (pty serial, TCP 9100, synthetic camera) for the demo and the tests."""
