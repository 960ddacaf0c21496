"""Cameras: decoding synthetic frames, clips written and read back, once-per-appearance scans."""

import cv2
import numpy as np
import pytest

from terminal.devices.camera import (
    Camera,
    CameraError,
    ClipRecorder,
    DecoderLoop,
    count_frames,
    decode_clip,
    decode_frame,
    encode_jpeg,
    load_profile,
)
from terminal.devices.profiles import ProfileError
from terminal.emulators.camera import (
    MARKING_BYTES,
    MARKING_HRI,
    Playback,
    Symbol,
    SyntheticCamera,
    scene_expected,
    scene_frames,
)


@pytest.fixture(scope="module")
def camera():
    return SyntheticCamera(seed=7)


@pytest.fixture(scope="module")
def frames(camera):
    return list(scene_frames(camera))


@pytest.mark.parametrize("symbol", [
    Symbol("ean13", "4607001771234", angle=20, module=3),
    Symbol("code128", "CELL-B-07-01-2", angle=-20, module=3),
    Symbol("code128", "CELL-B-07-01-2", angle=100, module=3),  # upright label, 10 degrees off
    Symbol("gs1-128", "(01)04650118041112(10)LOT42(17)271231", angle=8, module=2),
    Symbol("qr", "TOTE-0042", angle=60, module=5),
    Symbol("datamatrix", "BADGE-0012", angle=-45, module=8),
    Symbol("gs1-datamatrix", MARKING_HRI, angle=30, module=6),
])
def test_decoder_reads_synthetic_frames_at_angles(camera, symbol):
    scans = decode_frame(camera.frame([symbol]))
    assert [scan.key for scan in scans] == [symbol.expected]
    assert scans[0].frame == 0 and len(scans[0].position) == 4


def test_qr_text_with_cyrillic(camera):
    (scan,) = decode_frame(camera.frame([Symbol("qr", "Пункт выдачи 42", angle=-60, module=5)]))
    assert scan.aim == "]Q1" and scan.text == "Пункт выдачи 42"


def test_marking_code_keeps_gs_separators_and_gs1_identifier(camera):
    symbol = Symbol("gs1-datamatrix", MARKING_HRI, angle=-25, center=(300, 200), module=6)
    (scan,) = decode_frame(camera.frame([symbol]))
    assert scan.aim == "]d2" and scan.is_gs1
    assert scan.data == MARKING_BYTES
    assert scan.data.count(b"\x1d") == 2 and b"\x1d91" in scan.data and b"\x1d92" in scan.data
    assert scan.format == "Data Matrix" and scan.text == MARKING_BYTES.decode()


def test_gs1_128_variable_fields_end_with_gs(camera):
    (scan,) = decode_frame(camera.frame([Symbol("gs1-128", "(01)04650118041112(10)LOT42(17)271231", module=2)]))
    assert scan.aim == "]C1" and scan.data == b"010465011804111210LOT42\x1d17271231"


def test_empty_frame_has_no_scans(camera):
    assert decode_frame(camera.frame()) == []


def test_decoder_loop_reports_once_per_appearance(frames):
    scans = list(DecoderLoop(absent_frames=3).run(frames))
    assert [scan.key for scan in scans] == scene_expected()
    # the EAN shown twice (after a gap) is reported twice, each at its first frame
    ean = [scan.frame for scan in scans if scan.aim == "]E0"]
    assert len(ean) == 2 and ean[0] == 3


def test_short_dropout_does_not_split_an_appearance(camera):
    symbol = Symbol("ean13", "4607001771234", module=3)
    seen, empty = camera.frame([symbol]), camera.frame()
    sequence = [seen, seen, empty, empty, seen, seen, empty, empty, empty, seen]
    scans = list(DecoderLoop(absent_frames=3).run(sequence))
    assert [scan.frame for scan in scans] == [0, 9]  # a 2-frame dropout is the same appearance


def test_decoder_loop_rejects_zero_window():
    with pytest.raises(ValueError):
        DecoderLoop(absent_frames=0)


@pytest.fixture(scope="module")
def clips(tmp_path_factory, frames):
    """The scene recorded once as MJPG .avi and mp4v .mp4."""
    recorders = {}
    for suffix in (".avi", ".mp4"):
        path = tmp_path_factory.mktemp("clips") / f"pack{suffix}"
        with ClipRecorder(path, size=(1280, 720), fps=15) as recorder:
            for frame in frames:
                recorder.write(frame)
        recorders[suffix] = recorder
    return recorders


@pytest.mark.parametrize("suffix,fourcc", [(".avi", "MJPG"), (".mp4", "mp4v")])
def test_recorded_clip_opens_again_with_all_frames_and_same_scans(clips, frames, suffix, fourcc):
    recorder = clips[suffix]
    (path,) = recorder.paths
    assert recorder.fourcc == fourcc and path.suffix == suffix
    assert count_frames(path) == len(frames) == recorder.frames_written
    with Camera(str(path)) as clip:
        assert clip.size == (1280, 720) and clip.fps == pytest.approx(15)
    assert [scan.key for scan in decode_clip(path, absent_frames=3)] == scene_expected()


def test_playback_replays_a_clip_as_a_source(clips, frames):
    path = str(clips[".avi"].paths[0])
    scans = list(DecoderLoop(absent_frames=3).run(Playback(path)))
    assert [scan.key for scan in scans] == scene_expected()
    looped = sum(1 for _, _ in zip(range(len(frames) + 5), Playback(path, loop=True), strict=False))
    assert looped == len(frames) + 5


def test_clip_frames_are_resized_to_the_fixed_size(tmp_path):
    path = tmp_path / "small.avi"
    with ClipRecorder(path, size=(320, 240), fps=10) as recorder:
        for i in range(5):
            recorder.write(np.full((720, 1280, 3), i * 40, np.uint8))
        recorder.write(np.zeros((100, 100), np.uint8))  # grayscale, other size
    with Camera(str(path)) as clip:
        assert clip.size == (320, 240)
        assert [frame.shape for frame in clip] == [(240, 320, 3)] * 6


def test_clip_split_at_size_limit_into_numbered_files(tmp_path):
    rng = np.random.default_rng(3)
    limit = 200_000
    path = tmp_path / "session.avi"
    with ClipRecorder(path, size=(320, 240), fps=10, max_bytes=limit) as recorder:
        for _ in range(40):
            recorder.write(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8))  # noise: big JPEG frames
    assert len(recorder.paths) >= 2
    assert [p.name for p in recorder.paths][:2] == ["session-001.avi", "session-002.avi"]
    assert not path.exists()
    for part, written in zip(recorder.paths, recorder.frame_counts, strict=True):
        assert count_frames(part) == written > 0
    for part in recorder.paths[:-1]:
        assert part.stat().st_size < limit * 1.5  # closed soon after reaching the limit
    assert sum(recorder.frame_counts) == 40


def test_clip_needs_a_known_container(tmp_path):
    with pytest.raises(CameraError):
        ClipRecorder(tmp_path / "clip.mkv")


def test_still_is_a_jpeg_that_decodes(tmp_path, camera):
    frame = camera.frame([Symbol("qr", "STILL-1", module=6)])
    data = encode_jpeg(frame, 90)
    assert data[:3] == b"\xff\xd8\xff"
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (720, 1280, 3)
    assert [scan.data for scan in decode_frame(image)] == [b"STILL-1"]
    path = tmp_path / "one.avi"
    with ClipRecorder(path, fps=5) as recorder:
        recorder.write(frame)
    with Camera(str(path)) as clip:
        assert clip.still()[:2] == b"\xff\xd8"
        with pytest.raises(CameraError):
            clip.still()  # end of file


def test_missing_source_is_a_camera_error(tmp_path):
    with pytest.raises(CameraError):
        Camera(str(tmp_path / "nope.avi"))


def test_generic_uvc_profile():
    profile = load_profile("generic-uvc")
    assert (profile.width, profile.height, profile.fourcc) == (1280, 720, "MJPG")
    assert profile.clip_extension == ".avi" and profile.clip_fourcc == "MJPG"
    recorder = ClipRecorder.for_profile("x.avi", profile)
    assert recorder.size == (1280, 720) and recorder.max_bytes == 200 * 1024 * 1024


def test_profile_with_unknown_key_is_rejected(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('model = "X"\nwidth = 640\nheight = 480\nfps = 30\nfourcc = "YUYV"\nzoom = 2\n')
    with pytest.raises(ProfileError, match="zoom"):
        load_profile(str(bad))


def test_emulate_camera_writes_a_clip_that_probes_to_the_scene(tmp_path):
    from click.testing import CliRunner

    from terminal.cli import main
    from terminal.devices.camera import probe

    out = tmp_path / "syn.avi"
    result = CliRunner().invoke(main, ["emulate", "camera", "--profile", "generic-uvc", "--out", str(out),
                                       "--frames", "12"])
    assert result.exit_code == 0, result.output
    assert "12 frames 1280x720 MJPG" in result.output and count_frames(out) == 12
    lines = []
    assert probe("generic-uvc", str(out), count=5, as_json=True, echo=lines.append) == 1
    assert '"aim": "]E0"' in lines[0] and '"data": "4607001771234"' in lines[0]


def test_devices_probe_reads_a_camera_clip(tmp_path):
    from click.testing import CliRunner

    from terminal.cli import main

    out = tmp_path / "syn.avi"
    assert CliRunner().invoke(main, ["emulate", "camera", "--profile", "generic-uvc", "--out", str(out),
                                     "--frames", "12"]).exit_code == 0
    result = CliRunner().invoke(main, ["devices", "probe", "--profile", "generic-uvc", "--port", str(out),
                                       "--count", "5", "--json"])
    assert result.exit_code == 0, result.output
    assert '"data": "4607001771234"' in result.output
    unknown = CliRunner().invoke(main, ["devices", "probe", "--profile", "no-such-device", "--port", "x"])
    assert unknown.exit_code != 0 and "no scale, scanner or camera profile" in unknown.output
