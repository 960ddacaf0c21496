"""Station-side CLI commands, one module per device family; each exports `commands`:
a list of (group, click command) with group "devices" or "emulate"."""
