"""`python -m terminal.emulators.printer_cli --profile P --port N [--serial] [--out DIR]`: run a
printer emulator (ZPL or ESC/POS, chosen by the profile's language) until stopped.

`cellwms emulate printer` runs this in a child process (the server never imports `terminal`).
"""

import argparse
import signal
import sys
import threading
from pathlib import Path

from printers.profiles import ProfileError, load_profile
from terminal.emulators.escpos_printer import EscposPrinterEmulator
from terminal.emulators.zpl_printer import ZplPrinterEmulator


def _stop_on_signals() -> None:
    """Ctrl+C and SIGTERM stop the emulator, also when started in the background by a shell,
    which makes its commands ignore SIGINT (Python then installs no KeyboardInterrupt handler)."""

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="cellwms emulate printer", description=__doc__)
    parser.add_argument("--profile", required=True)
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--serial", action="store_true", help="also a pty serial port (ESC/POS)")
    parser.add_argument("--out", type=Path, help="save each job (and its PNG for ZPL) in this folder")
    args = parser.parse_args(argv)
    _stop_on_signals()
    try:
        profile = load_profile(args.profile)
    except ProfileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    kind = ZplPrinterEmulator if profile.language == "zpl" else EscposPrinterEmulator
    emulator = kind(profile, args.host, args.port)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)

    def printed(job):
        ext = "zpl" if profile.language == "zpl" else "bin"
        print(f"job {job.index}: {len(job.data)} bytes{'' if job.complete else ' (torn)'}", flush=True)
        if args.out:
            (args.out / f"job-{job.index:04d}.{ext}").write_bytes(job.data)
            if profile.language == "zpl":
                png = emulator.png(job)
                if png:
                    (args.out / f"job-{job.index:04d}.png").write_bytes(png)

    emulator.on_print = printed
    try:
        emulator.start(tcp=True, serial=args.serial)
    except OSError as error:
        print(f"error: cannot listen on {args.host}:{args.port}: {error.strerror or error}", file=sys.stderr)
        return 1
    print(f"{profile.language.upper()} printer emulator ({profile.vendor} {profile.model}) at {emulator.url}",
          flush=True)
    if args.serial:
        print(f"serial port: serial://{emulator.serial_path}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
