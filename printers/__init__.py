"""cellwms printing library: label and receipt templates, ZPL and ESC/POS rendering, transports.

Imports nothing of ours; used by the station agent to print and by the server for previews.
"""
