"""Device drivers: a transport plus a pure codec (bytes <-> readings), shared with the emulators."""
