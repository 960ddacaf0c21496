"""Camera benchmark: zxing-cpp decode time per 1280x720 frame, and clip codec throughput.

`python -m bench camera -- [--frames N] [--codec-frames N]`
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from terminal.devices.camera import Camera, ClipRecorder, decode_frame
from terminal.emulators.camera import MARKING_HRI, Symbol, SyntheticCamera, scene_frames

CASES = [
    ("empty frame", ()),
    ("EAN-13, 12 deg", (Symbol("ean13", "4607001771234", angle=12, module=3),)),
    ("Code 128, -8 deg", (Symbol("code128", "CELL-A-01-02-3", angle=-8, module=3),)),
    ("GS1-128 SSCC, 5 deg", (Symbol("gs1-128", "(00)146500000000000019", angle=5, module=2),)),
    ("QR, 35 deg", (Symbol("qr", "https://cellwms.example/t/TOTE-0042", angle=35, module=5),)),
    ("DataMatrix marking code, -25 deg", (Symbol("gs1-datamatrix", MARKING_HRI, angle=-25, module=6),)),
    ("EAN-13 + marking code + QR", (
        Symbol("ean13", "4607001771234", angle=12, center=(350, 360), module=3),
        Symbol("gs1-datamatrix", MARKING_HRI, angle=-25, center=(750, 300), module=6),
        Symbol("qr", "TOTE-0042", angle=35, center=(1050, 500), module=5))),
]


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def decode_table(samples: int) -> None:
    camera = SyntheticCamera(1280, 720, seed=11)
    print("### Decode time per 1280x720 frame (zxing-cpp, grayscale conversion included)")
    print()
    print("| frame | samples | found | median ms | p95 ms |")
    print("|---|---:|---:|---:|---:|")
    for name, symbols in CASES:
        frames = [camera.frame(symbols) for _ in range(min(samples, 5))]  # distinct noise
        times, found = [], 0
        decode_frame(frames[0])  # warm-up
        for i in range(samples):
            start = time.perf_counter()
            scans = decode_frame(frames[i % len(frames)])
            times.append((time.perf_counter() - start) * 1000)
            found += len(scans) == len(symbols)
        print(f"| {name} | {samples} | {found}/{samples} | {statistics.median(times):.1f} | "
              f"{percentile(times, 0.95):.1f} |")
    print()


def codec_table(count: int) -> None:
    frames = list(scene_frames(SyntheticCamera(1280, 720, seed=12), limit=min(count, 60)))
    print(f"### Clip codecs, 1280x720 synthetic packing scene ({count} frames)")
    print()
    print("| codec | container | write fps | read fps | KiB/frame |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".avi", ".mp4"):
            path = Path(tmp) / f"clip{suffix}"
            start = time.perf_counter()
            with ClipRecorder(path, (1280, 720), 15) as recorder:
                for i in range(count):
                    recorder.write(frames[i % len(frames)])
            written = time.perf_counter() - start
            start = time.perf_counter()
            with Camera(str(path)) as clip:
                read = sum(1 for _ in clip)
            reading = time.perf_counter() - start
            assert read == count, f"{path.name}: {read} of {count} frames read back"
            print(f"| {recorder.fourcc} | {suffix} | {count / written:.0f} | {read / reading:.0f} | "
                  f"{path.stat().st_size / 1024 / count:.0f} |")
    print()


def run(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench camera")
    parser.add_argument("--frames", type=int, default=50, help="decode samples per frame kind")
    parser.add_argument("--codec-frames", type=int, default=300, help="frames written and read per codec")
    args = parser.parse_args(argv)
    print("## Camera")
    print()
    decode_table(args.frames)
    codec_table(args.codec_frames)
