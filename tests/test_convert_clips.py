"""``simrec convert LOG -o clips/ --clips``: one MP4 per recorded clip, named as RecordVideo names it."""

from __future__ import annotations

import os

import numpy as np
import pytest

gym = pytest.importorskip("gymnasium")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from simrec_node.cli.main import main  # noqa: E402
from simrec_node.integrations import RecordRollout, RecordVectorRollout  # noqa: E402
from simrec_node.msgs import decode_image  # noqa: E402

from .integrations_helpers import read_messages, read_metadata  # noqa: E402


def _decode_mp4(path):
    """(frames as arrays, fps) of an MP4, decoded by ffmpeg."""
    import imageio_ffmpeg

    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    width, height = meta["size"]
    frames = [np.frombuffer(f, np.uint8).reshape(height, width, 3) for f in reader]
    return frames, meta["fps"]


def _record(path, videos=None, episodes=6, **kwargs):
    env = RecordRollout(
        gym.make("CartPole-v1", render_mode="rgb_array"),
        path,
        image_format="png",
        video_folder=videos,
        **kwargs,
    )
    rng = np.random.default_rng(3)
    for episode in range(episodes):
        env.reset(seed=episode)
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(int(rng.integers(2)))
            done = terminated or truncated
    env.close()


def test_clips_come_out_named_and_sized_as_recorded(tmp_path, capsys):
    log, videos, out = tmp_path / "run.mcap", tmp_path / "videos", tmp_path / "clips"
    # a step trigger whose 45-frame clips cross resets, at a rate that is not the env's
    _record(log, videos, step_trigger=lambda s: s % 50 == 0, video_length=45, fps=25)
    clips = [v for n, v in read_metadata(log) if n == "simrec.clip"]
    assert len(clips) >= 2
    assert main(["convert", str(log), "-o", f"{out}/", "--clips"]) == 0
    printed = capsys.readouterr().out
    assert f"wrote {len(clips)} clips to {out}/" in printed
    # the files RecordRollout wrote to video_folder (RecordVideo's names), no more, nothing left over
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"{c['name']}.mp4" for c in clips) == sorted(p.name for p in videos.iterdir())
    frames = [
        decode_image("foxglove.CompressedImage", m.data) for m, _ in read_messages(log)["/camera/rl_video"]
    ]
    for clip in clips:
        decoded, fps = _decode_mp4(out / f"{clip['name']}.mp4")
        assert len(decoded) == int(clip["frames"]) == 46  # video_length + 1, as RecordVideo
        assert fps == 25.0  # the recorded fps, with no --fps
        first = int(clip["first_frame"])
        for k in (0, len(decoded) - 1):  # its own frames (H.264: near, not equal)
            assert np.abs(decoded[k].astype(int) - frames[first + k]).mean() < 2.0
    # again: the files exist
    assert main(["convert", str(log), "-o", f"{out}/", "--clips", "-q"]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main(["convert", str(log), "-o", str(out), "--clips", "-q", "--overwrite", "--fps", "10"]) == 0
    assert _decode_mp4(out / f"{clips[0]['name']}.mp4")[1] == 10.0


def test_vector_clips_tiled_and_per_env(tmp_path):
    for per_env in (False, True):
        log = tmp_path / f"vec_{per_env}.mcap"
        envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync", render_mode="rgb_array")
        env = RecordVectorRollout(
            envs, log, episode_trigger=lambda e: e in (0, 1), per_env_frames=per_env, image_format="png"
        )
        env.reset(seed=4)
        env.action_space.seed(4)
        for _ in range(60):
            env.step(env.action_space.sample())
        env.close()
        out = tmp_path / f"clips_{per_env}"
        assert main(["convert", str(log), "-o", str(out), "--clips", "-q"]) == 0
        clips = [v for n, v in read_metadata(log) if n == "simrec.clip"]
        assert sorted(p.name for p in out.iterdir()) == sorted(f"{c['name']}.mp4" for c in clips)
        for clip in clips:
            decoded, fps = _decode_mp4(out / f"{clip['name']}.mp4")
            assert (len(decoded), fps) == (int(clip["frames"]), 50.0)
            assert decoded[0].shape == ((400, 600, 3) if per_env else (400, 1200, 3))
        if per_env:
            assert {c["name"] for c in clips} >= {"rl-video-episode-0-env-0", "rl-video-episode-0-env-1"}


def test_a_log_without_clips_is_one_line(tmp_path, capsys):
    log = tmp_path / "noframes.mcap"
    _record(log, episodes=1, record_frames=False)
    assert main(["convert", str(log), "-o", str(tmp_path / "clips"), "--clips", "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("simrec: error: ") and "records no clips" in err[0]
    assert not (tmp_path / "clips").exists() or not any((tmp_path / "clips").iterdir())
    for extra in (["--start", "1"], ["--tile"]):
        assert main(["convert", str(log), "-o", str(tmp_path / "c"), "--clips", "-q", *extra]) == 2
    assert main(["convert", str(log), "-o", str(tmp_path / "c.mp4"), "--clips", "-q"]) == 2
    assert main(["convert", str(log), "-o", str(tmp_path / "c.npz"), "--clips", "-q"]) == 2
    assert "directory" in capsys.readouterr().err
