"""CLI commands for cameras (see terminal/cli.py).

`cellwms emulate camera --profile P [--out clip.avi] [--frames N]` writes a synthetic packing-table
clip (barcodes at angles, blur, noise, a Chestny Znak DataMatrix) in the profile's size and codec,
and lists the scans a camera decoder must read from it: a camera source to check a station with
(`cellwms devices probe --profile P --port clip.avi`) when no camera is at hand.

`cellwms emulate camera --profile P --mjpeg PORT` serves the scene instead as a network camera
(MJPEG over HTTP on 127.0.0.1:PORT/video.mjpg, as IP cameras do) until interrupted.
"""

import click


@click.command("camera")
@click.option("--profile", "profile_name", required=True, help="camera profile (name or .toml path)")
@click.option("--out", "out", default="synthetic-camera.avi", show_default=True,
              help="clip to write (.avi: MJPG, .mp4: mp4v)")
@click.option("--frames", type=int, default=None, help="frames to write (default: the whole scene once)")
@click.option("--repeat", type=int, default=1, show_default=True, help="times to play the scene")
@click.option("--fps", type=float, default=None, help="frame rate (default: the profile's clip_fps)")
@click.option("--mjpeg", "mjpeg_port", type=int, default=None,
              help="serve MJPEG over HTTP on 127.0.0.1:PORT (a network camera) instead of writing a clip")
@click.option("--size", default=None, help="frame size for --mjpeg, e.g. 640x360 (default: the profile's)")
def camera_command(profile_name, out, frames, repeat, fps, mjpeg_port, size):
    """Write a synthetic camera clip and print the scans it holds (or serve it as MJPEG)."""
    from terminal.devices.camera import CameraError, ClipRecorder, load_profile
    from terminal.devices.profiles import ProfileError
    from terminal.emulators.camera import SyntheticCamera, scene, scene_expected, scene_frames

    if mjpeg_port is not None:
        from terminal.emulators import mjpeg_camera

        try:
            profile = load_profile(profile_name)
            width, height = (int(n) for n in size.lower().split("x")) if size else (profile.width, profile.height)
        except (ProfileError, ValueError) as error:
            raise click.ClickException(str(error)) from None
        mjpeg_camera.main(mjpeg_port, width, height, fps or profile.clip_fps, say=click.echo)
        return
    try:
        profile = load_profile(profile_name)
        recorder = ClipRecorder(out, (profile.width, profile.height), fps or profile.clip_fps)
    except (ProfileError, CameraError) as error:
        raise click.ClickException(str(error)) from None
    total = frames if frames is not None else len(scene(repeat))
    repeat = max(repeat, -(-total // len(scene(1))))
    camera = SyntheticCamera(profile.width, profile.height)
    with recorder:
        for frame in scene_frames(camera, repeat, limit=total):
            recorder.write(frame)
    click.echo(f"{out}: {recorder.frames_written} frames {profile.width}x{profile.height} "
               f"{recorder.fourcc} @ {recorder.fps:g} fps")
    if frames is None:
        click.echo("scans in order (once per appearance):")
        for aim, data in scene_expected(repeat):
            click.echo(f"  {aim} {data.decode().replace(chr(29), '<GS>')}")
    click.echo(f"check: cellwms devices probe --profile {profile.name} --port {out}")


commands = [("emulate", camera_command)]
