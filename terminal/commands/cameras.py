"""CLI commands for cameras (see terminal/cli.py).

`cellwms emulate camera --profile P [--out clip.avi] [--frames N]` writes a synthetic packing-table
clip (barcodes at angles, blur, noise, a Chestny Znak DataMatrix) in the profile's size and codec,
and lists the scans a camera decoder must read from it: a camera source to check a station with
(`cellwms devices probe --profile P --port clip.avi`) when no camera is at hand.
"""

import click


@click.command("camera")
@click.option("--profile", "profile_name", required=True, help="camera profile (name or .toml path)")
@click.option("--out", "out", default="synthetic-camera.avi", show_default=True,
              help="clip to write (.avi: MJPG, .mp4: mp4v)")
@click.option("--frames", type=int, default=None, help="frames to write (default: the whole scene once)")
@click.option("--repeat", type=int, default=1, show_default=True, help="times to play the scene")
@click.option("--fps", type=float, default=None, help="frame rate (default: the profile's clip_fps)")
def camera_command(profile_name, out, frames, repeat, fps):
    """Write a synthetic camera clip and print the scans it holds."""
    from terminal.devices.camera import CameraError, ClipRecorder, load_profile
    from terminal.devices.profiles import ProfileError
    from terminal.emulators.camera import SyntheticCamera, scene, scene_expected, scene_frames

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
