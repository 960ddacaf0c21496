"""cellwms station agent: bridges scanners, scales, printers and cameras to the server over HTTP.

Never imports `server`. Devices live in `terminal.devices`, emulators in `terminal.emulators`.
"""
