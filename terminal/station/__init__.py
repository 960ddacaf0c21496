"""The station agent: `cellwms station --profile P --server URL --token T`.

Pieces (the HTTP side is in docs/station-protocol.md):

- `profile.py`  station profile (firmware_profiles/stations/*.toml): name, kind, devices (model
  profile + transport URL), which printer takes which template, camera roles. Checked at start.
- `devices/`    one supervised `StationDevice` per device, a module per kind: reads it in its thread, reconnects
  with backoff, reports health, turns input into events, runs the device jobs it can.
- `outbox.py`   the local SQLite outbox (fsync'd): events, media files waiting for upload, and the
  jobs the agent ran (so a re-delivered job is not run twice).
- `link.py`     the HTTP client: event batches, job long-poll, heartbeat, resumable media upload.
- `agent.py`    puts them together: uploader, job poller, heartbeat, local status endpoint.

The device <-> agent contract:

    device.start(emit)      emit(kind, payload, *, media=None) queues an event (durably) and
                            returns its event_id; `media` is a file path the agent uploads and
                            names in the payload (`media` = sha256, `size`).
    device.stop()
    device.health() -> {"kind", "state": "up"|"down"|"degraded", "detail", "since"}
    device.run_job(job) -> {"result": "done"|"printed"|"paper_out"|"head_open"|"failed", "detail", ...}
"""
