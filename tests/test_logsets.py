"""Split recordings as one log: `simrec info`, `play` and `convert` over ``run/run_<N>.mcap``.

The split files are written with simrec's McapWriter in the layout of the recorder's splitting
(each file complete, own channels, ``simrec.*`` metadata, ``simrec.split``); one more file holds
the whole stream, so every result over the set is checked against the same data unsplit.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import time
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from mcap.writer import Writer

from simrec_node.cli.main import main
from simrec_node.convert import Mp4Options, convert_to_mp4, open_log
from simrec_node.graph import Node
from simrec_node.info import log_files, render_summary, summarize, summarize_log
from simrec_node.logs import each_recording, recordings
from simrec_node.msgs import (
    CompressedImage,
    Episode,
    Scalars,
    StateBatch,
    descriptor_set_of,
    encode_compressed_image,
    encode_state_batch,
)
from simrec_node.play import Item, LogSource, PlaybackClock, Player, PlayRange
from simrec_node.record import McapWriter

from .conftest import publisher_command, simrec_command, start_process, wait_for_line
from .mcap_interop import ensure_node_peers
from .test_play import Received
from .test_play_serve import play_control_session

T0 = 1_700_000_000_000_000_000
MS = 1_000_000
STEP_NS = 5 * MS
COUNT = 300
CUTS = (0, 100, 200, COUNT)  # file N holds events CUTS[N] <= i < CUTS[N + 1]
TYPES = {
    "/sim/state": ("simrec.StateBatch", StateBatch),
    "/sim/reward": ("simrec.Scalars", Scalars),
    "/camera/rgb": ("foxglove.CompressedImage", CompressedImage),
    "/episodes": ("simrec.Episode", Episode),
}
NUMERIC = ("/sim/state", "/sim/reward")


def event(i: int) -> tuple[str, bytes] | None:
    """The i-th slot of the stream: (topic, payload), or None (no message in this slot)."""
    if i in (50, 150, 250):
        k = i // 100
        return "/episodes", Episode(
            episode_index=k, episode_return=float(k), length=10, terminated=True
        ).SerializeToString()
    if i % 3 == 0:
        qpos = np.full((2, 2), i, dtype=np.float32)
        return "/sim/state", encode_state_batch(
            {"qpos": qpos, "reward": np.array([i, -i], np.float32)}, step=i
        )
    if i % 3 == 1:
        return "/sim/reward", Scalars(step=i, values={"mean": i / 10}).SerializeToString()
    if i % 6 == 2:
        frame = np.full((24, 32, 3), (i * 3) % 256, dtype=np.uint8)
        return "/camera/rgb", encode_compressed_image(frame, stamp_ns=T0 + i * STEP_NS)
    return None


STREAM = [(T0 + i * STEP_NS, *e) for i in range(COUNT) if (e := event(i)) is not None]


def file_events(n: int) -> list[tuple[int, str, bytes]]:
    lo, hi = T0 + CUTS[n] * STEP_NS, T0 + CUTS[n + 1] * STEP_NS
    return [e for e in STREAM if lo <= e[0] < hi]


def topic_stats(n: int) -> dict[str, str]:
    """Per-file recorder stats: drops that differ per file, so sums can be checked."""
    return {
        "/sim/state": json.dumps({"received": 1, "gap_dropped": n + 1, "queue_dropped": 0}),
        "/sim/reward": json.dumps({"received": 1, "gap_dropped": 0, "queue_dropped": 2 if n == 2 else 0}),
    }


def write_file(path: Path, events: list[tuple[int, str, bytes]], *, n: int | None = None) -> Path:
    with McapWriter(path, chunk_size=2048) as w:
        w.add_metadata(
            "simrec.recording", {"command_line": "simrec record -a -o run -b 1000000", "host": "h"}
        )
        w.add_metadata("simrec.meta", {"task": "pick"})
        # Channels registered in another order in every file: their ids differ between files.
        topics = list(TYPES) if n is None else list(TYPES)[n:] + list(TYPES)[:n]
        ids = {}
        for topic in topics:
            name, cls = TYPES[topic]
            ids[topic] = w.add_channel(
                topic, "protobuf", w.add_schema(name, "protobuf", descriptor_set_of(cls))
            )
        for seq, (t, topic, data) in enumerate(events):
            w.write(ids[topic], seq, t, t - 7, data)
        if n is not None:
            w.add_metadata("simrec.topic_stats", topic_stats(n))
            w.add_metadata("simrec.split", {"index": str(n), "name": "run"})
    return path


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the split directory run/ with run_0..run_2.mcap, the unsplit whole.mcap)."""
    root = tmp_path_factory.mktemp("logsets")
    run = root / "run"
    run.mkdir()
    for n in range(len(CUTS) - 1):
        write_file(run / f"run_{n}.mcap", file_events(n), n=n)
    (run / "notes.txt").write_text("not a log; ignored in a directory")
    return run, write_file(root / "whole.mcap", STREAM)


def parts(run: Path) -> list[Path]:
    return [run / f"run_{n}.mcap" for n in range(len(CUTS) - 1)]


# ---------------------------------------------------------------------------- info


def test_info_of_the_set_sums_to_the_union(logs: tuple[Path, Path]) -> None:
    run, whole = logs
    merged, union = summarize_log(run), summarize(whole)
    assert merged.message_count == union.message_count == len(STREAM)
    assert (merged.start_ns, merged.end_ns, merged.duration_s) == (
        union.start_ns,
        union.end_ns,
        union.duration_s,
    )
    assert merged.size_bytes == sum(p.stat().st_size for p in parts(run))
    for got, want in zip(merged.topics, union.topics, strict=True):
        assert (got.topic, got.type_name, got.count) == (want.topic, want.type_name, want.count)
        assert (got.first_time_ns, got.last_time_ns) == (want.first_time_ns, want.last_time_ns)
        assert got.frequency_hz == pytest.approx(want.frequency_hz)
    drops = {t.topic: t.dropped_detail for t in merged.topics}
    assert drops["/sim/state"] == {"gap_dropped": 1 + 2 + 3, "queue_dropped": 0}
    assert drops["/sim/reward"] == {"gap_dropped": 0, "queue_dropped": 2}
    assert merged.episodes is not None and merged.episodes.count == 3 == union.episodes.count
    assert merged.episodes.terminated == 3
    assert merged.user_meta == {"task": "pick"}
    assert [Path(f.path).name for f in merged.files] == ["run_0.mcap", "run_1.mcap", "run_2.mcap"]
    assert [f.message_count for f in merged.files] == [len(file_events(n)) for n in range(3)]
    assert [f.start_ns for f in merged.files] == [file_events(n)[0][0] for n in range(3)]
    assert not merged.warnings

    text = render_summary(merged)
    assert f"Log:               {run}" in text
    assert text.count(".mcap |") == 3 and "Files:             run_0.mcap" in text
    assert "notes.txt" not in text


def test_info_cli_json_for_a_set_and_unchanged_for_one_file(logs: tuple[Path, Path], capsys) -> None:
    run, whole = logs
    assert main(["info", *map(str, reversed(parts(run))), "--json"]) == 0  # order on the line does not matter
    data = json.loads(capsys.readouterr().out)
    assert data["message_count"] == len(STREAM)
    assert [Path(f["path"]).name for f in data["files"]] == ["run_0.mcap", "run_1.mcap", "run_2.mcap"]
    assert main(["info", str(whole), "--json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert "files" not in single and single["path"] == str(whole)


def test_files_are_ordered_by_time_when_names_are_not_numbered(
    logs: tuple[Path, Path], tmp_path: Path
) -> None:
    run, _ = logs
    named = [tmp_path / "c.mcap", tmp_path / "a.mcap", tmp_path / "b.mcap"]  # name order != time order
    for src, dst in zip(parts(run), named, strict=True):
        shutil.copy(src, dst)
    # One file has no statistics record: its start comes from a scan.
    with open(named[2], "wb") as f:
        w = Writer(f, use_statistics=False)
        w.start()
        cid = w.register_channel("/x", "json", w.register_schema("x", "jsonschema", b"{}"))
        for t, _, _ in file_events(2):
            w.add_message(cid, log_time=t, publish_time=t, data=b"{}")
        w.finish()
    assert log_files(tmp_path) == named
    assert log_files([named[2], named[0], named[1]]) == named
    assert summarize_log(tmp_path).message_count == len(file_events(0)) + len(file_events(1)) + len(
        file_events(2)
    )


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        (["info", "{tmp}/empty"], "is a directory with no .mcap files in it"),
        (["info", "{tmp}/missing"], "no such file: {tmp}/missing"),
        (["info", "{run}/run_0.mcap", "{tmp}/notes.txt"], "is not an MCAP file"),
        (["info", "{run}", "{run}/run_0.mcap"], "is a directory: pass one directory of split files"),
        (["info", "{run}/run_0.mcap", "{run}/../run/run_0.mcap"], "is given twice"),
        (["play", "{tmp}/empty"], "is a directory with no .mcap files in it"),
        (["convert", "{run}/run_1.mcap", "{run}/run_1.mcap", "-o", "{tmp}/x.npz"], "is given twice"),
    ],
)
def test_bad_inputs_are_one_line(logs: tuple[Path, Path], tmp_path: Path, capsys, command, needle) -> None:
    run, _ = logs
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    argv = [a.format(tmp=tmp_path, run=run) for a in command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("simrec: error: ")
    assert needle.format(tmp=tmp_path, run=run) in err
    assert not (tmp_path / "x.npz").exists()


# ---------------------------------------------------------------------------- play


def test_play_publishes_every_message_of_every_file_once_in_order(
    domain: str, logs: tuple[Path, Path]
) -> None:
    run, _ = logs
    with Node("listener") as node:
        got = Received(node, list(TYPES))
        proc = start_process(
            simrec_command(
                "play", str(run), "-r", "4", "--wait-for-subscribers", "5", "--disable-keyboard-controls"
            ),
            domain,
        )
        messages = got.wait_for(len(STREAM))
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"played {len(STREAM)} messages" in err
    assert len(messages) == len(STREAM)
    for topic in TYPES:  # each topic arrives in recorded order (topics come on their own threads)
        assert [m.data for m in messages if m.topic == topic] == [d for _, tp, d in STREAM if tp == topic]
    by_stamp = sorted(messages, key=lambda m: m.publish_time_ns)
    assert [(m.topic, m.publish_time_ns) for m in by_stamp] == [(tp, t - 7) for t, tp, _ in STREAM]
    assert {m.type_name for m in messages} == {name for name, _ in TYPES.values()}


class Collect:
    """A player sink that keeps what it is given."""

    wants_latest_on_seek = True

    def __init__(self) -> None:
        self.delivered: list[Item] = []
        self.latest: list[Item] = []
        self.done = threading.Event()

    def deliver(self, item: Item) -> None:
        self.delivered.append(item)

    def seeked(self, time_ns: int, latest: list[Item], *, announce: bool) -> None:
        self.latest = latest

    def ended(self) -> None:
        self.done.set()


def test_seek_across_a_file_boundary(logs: tuple[Path, Path]) -> None:
    run, _ = logs
    source = LogSource(
        [*map(str, reversed(parts(run)))]
    )  # channel ids differ per file: one channel per topic
    try:
        assert sorted(source.topics) == sorted(TYPES) and len(source.channels) == len(TYPES)
        assert (source.start_ns, source.end_ns) == (STREAM[0][0], STREAM[-1][0])
        boundary = T0 + CUTS[2] * STEP_NS
        target = boundary + 1 * STEP_NS  # just inside run_2: /camera/rgb and /episodes are older
        clock = PlaybackClock(source.start_ns, rate=100.0, paused=True)
        sink = Collect()
        player = Player(source, clock, [sink], PlayRange(source.start_ns, source.end_ns))
        thread = threading.Thread(target=player.run, daemon=True)
        thread.start()
        clock.seek(boundary - 20 * STEP_NS)  # back in run_1 ...
        time.sleep(0.2)
        clock.seek(target)  # ... then across into run_2
        time.sleep(0.2)
        clock.resume()
        assert sink.done.wait(20)
        clock.stop()
        thread.join(5)
    finally:
        source.close()
    after = [(tp, t, d) for t, tp, d in STREAM if t > target]
    assert [(i.channel.topic, i.log_time, bytes(i.data)) for i in sink.delivered] == after
    want_latest = {}
    for t, tp, d in STREAM:
        if t <= target and t >= target - 30_000 * MS:
            want_latest[tp] = (t, d)
    assert {i.channel.topic: (i.log_time, bytes(i.data)) for i in sink.latest} == want_latest
    assert want_latest["/episodes"][0] < boundary  # found in an earlier file


# ---------------------------------------------------------------------------- convert


def test_convert_npz_of_the_set_is_the_concatenation_of_its_files(
    logs: tuple[Path, Path], tmp_path: Path
) -> None:
    run, _ = logs
    topics = [a for t in NUMERIC for a in ("-t", t)]
    assert main(["convert", str(run), "-o", str(tmp_path / "set.npz"), "-q", *topics]) == 0
    for n, part in enumerate(parts(run)):
        assert main(["convert", str(part), "-o", str(tmp_path / f"{n}.npz"), "-q", *topics]) == 0
    with np.load(tmp_path / "set.npz") as whole:
        each = [dict(np.load(tmp_path / f"{n}.npz")) for n in range(3)]
        keys = set(whole.files) - {"__meta__"}
        assert keys == set(each[0]) - {"__meta__"} and "/sim/state/tensors.qpos" in keys
        for key in keys:
            np.testing.assert_array_equal(whole[key], np.concatenate([e[key] for e in each]), err_msg=key)
        assert len(whole["/sim/state/log_time"]) == sum(1 for _, tp, _ in STREAM if tp == "/sim/state")
        assert json.loads(str(whole["__meta__"]))["source"] == str(run)


def test_convert_mp4_of_the_set_holds_the_frames_of_every_file(
    logs: tuple[Path, Path], tmp_path: Path
) -> None:
    run, _ = logs
    options = Mp4Options(topics=("/camera/rgb",), each_frame=True, fps=30)
    (whole,) = convert_to_mp4(open_log(parts(run)), tmp_path / "set.mp4", options)
    per_file = [
        convert_to_mp4(open_log(p), tmp_path / f"{n}.mp4", options)[0] for n, p in enumerate(parts(run))
    ]
    frames = sum(1 for _, tp, _ in STREAM if tp == "/camera/rgb")
    assert whole.frames == sum(v.frames for v in per_file) == frames
    reader = imageio_ffmpeg.read_frames(str(tmp_path / "set.mp4"))
    next(reader)
    assert sum(1 for _ in reader) == frames


def test_python_reader_iterates_a_set_as_one_log(logs: tuple[Path, Path]) -> None:
    run, whole = logs
    with open_log(run) as log_set, open_log(whole) as single:
        assert log_set.topics == single.topics and log_set.files == parts(run)
        got = [(r.topic, r.log_time, bytes(r.data)) for r in log_set.iter_raw()]
        want = [(r.topic, r.log_time, bytes(r.data)) for r in single.iter_raw()]
        assert got == want
        assert log_set.problems == []


def test_play_cli_refuses_an_empty_set_of_messages(tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    run.mkdir()
    for n in range(2):
        write_file(run / f"run_{n}.mcap", [], n=n)
    assert main(["play", str(run), "--disable-keyboard-controls"]) == 2
    err = capsys.readouterr().err
    assert err == f"simrec: error: {run} holds no messages; nothing to play\n"


def test_serve_plays_the_set_as_one_timeline(logs: tuple[Path, Path]) -> None:
    """The Foxglove timeline over a split log, driven by the real @foxglove/ws-protocol client."""
    run, _ = logs
    ensure_node_peers()
    seek_ns = T0 + (CUTS[2] + 1) * STEP_NS + STEP_NS // 2  # just inside run_2
    session = play_control_session(run, seek_ns, "--no-graph")
    info = session["serverInfo"]
    start = info["dataStartTime"]["sec"] * 10**9 + info["dataStartTime"]["nsec"]
    end = info["dataEndTime"]["sec"] * 10**9 + info["dataEndTime"]["nsec"]
    assert (start, end) == (STREAM[0][0], STREAM[-1][0])
    assert sorted(c["topic"] for c in session["channels"]) == sorted(TYPES)  # one channel per topic
    events = session["events"]
    by_time = {t: d.hex() for t, _, d in STREAM}
    messages = [e for e in events if e["kind"] == "message"]
    assert messages and all(by_time[int(m["logTime"])] == m["data"] for m in messages)
    seek_state = next(
        i for i, e in enumerate(events) if e.get("requestId") == "req-2" and e["kind"] == "state"
    )
    play_request = next(i for i, e in enumerate(events) if e.get("requestId") == "req-3")
    resent = {
        e["topic"]: int(e["logTime"]) for e in events[seek_state:play_request] if e["kind"] == "message"
    }
    latest = {tp: t for t, tp, _ in STREAM if t <= seek_ns}
    assert resent == latest and resent["/episodes"] < T0 + CUTS[2] * STEP_NS  # from run_1
    back_to_start = next(i for i, e in enumerate(events) if e.get("requestId") == "req-4")
    played = [
        int(e["logTime"])
        for e in events[play_request:back_to_start]
        if e["kind"] == "message" and int(e["logTime"]) > seek_ns
    ]
    assert played == [t for t, _, _ in STREAM if t > seek_ns]


def test_a_real_split_recording_reads_as_one_log(domain: str, tmp_path: Path, capsys) -> None:
    """`simrec record -b 1M` of ~3 MB uncompressed makes run/run_0.mcap, run_1.mcap, ...: one log."""
    count = 1500
    recorder = start_process(
        simrec_command(
            "record", "/data", "-o", str(tmp_path / "run"), "-b", "1M", "--compression", "none", "-q"
        ),
        domain,
    )
    try:
        wait_for_line(recorder.stderr, "recording")
        publisher = start_process(
            publisher_command(
                "--topic", "/data", "--type", "custom", "--size", "2000", "--count", str(count)
            ),
            domain,
        )
        _out, err = publisher.communicate(timeout=60)
        assert publisher.returncode == 0, err
    finally:
        recorder.send_signal(signal.SIGINT)
        _out, err = recorder.communicate(timeout=60)
    assert recorder.returncode == 0, err
    run = tmp_path / "run"
    files = log_files(run)
    assert len(files) >= 2 and [f.name for f in files] == [f"run_{n}.mcap" for n in range(len(files))]
    with open_log(run) as log:
        sequences = [r.sequence for r in log.iter_raw("/data")]
        assert log.problems == []
    assert sequences == list(range(sequences[0], sequences[0] + count))  # in order, no gap, no double
    assert main(["info", str(run), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["message_count"] == count == sum(f["message_count"] for f in data["files"])
    assert len(data["files"]) == len(files)
    assert recordings(run) == [run]  # the recorder's split files say they are one recording


def _foreign(path: Path, events: list[tuple[int, str, bytes]]) -> Path:
    """A file of another tool: the `mcap` package's writer, no simrec metadata."""
    with open(path, "wb") as f:
        w = Writer(f)
        w.start()
        cid = w.register_channel("/x", "json", w.register_schema("x", "jsonschema", b"{}"))
        for t, _, _ in events:
            w.add_message(cid, log_time=t, publish_time=t, data=b"{}")
        w.finish()
    return path


def test_a_directory_is_one_recording_only_when_its_files_say_so(
    logs: tuple[Path, Path], tmp_path: Path
) -> None:
    run, whole = logs
    assert recordings(run) == [run]  # simrec.split records, one name, one simrec.recording
    assert recordings(whole) == [whole]
    assert recordings([whole, whole.parent / "x.mcap"]) == [[whole, whole.parent / "x.mcap"]]
    side_by_side = tmp_path / "runs"  # two recordings, not split: each its own
    side_by_side.mkdir()
    shutil.copy(whole, side_by_side / "a.mcap")
    shutil.copy(whole, side_by_side / "b.mcap")
    assert recordings(side_by_side) == [str(side_by_side / "a.mcap"), str(side_by_side / "b.mcap")]
    assert each_recording([side_by_side, run]) == [*recordings(side_by_side), run]
    assert each_recording(whole) == [whole]
    said = "2 separate recordings, not one recording's split files"
    assert said in summarize_log(side_by_side).warnings[0]  # `info` says so, and still sums them
    assert not [w for w in summarize_log(run).warnings if "separate recordings" in w]
    mixed = tmp_path / "mixed"  # a split file next to another tool's file
    mixed.mkdir()
    shutil.copy(parts(run)[0], mixed / "run_0.mcap")
    _foreign(mixed / "run_1.mcap", file_events(1))
    assert len(recordings(mixed)) == 2
    foreign = tmp_path / "foreign"  # another tool's files: their names decide
    foreign.mkdir()
    for n in range(2):
        _foreign(foreign / f"bag_{n}.mcap", file_events(n))
    assert recordings(foreign) == [foreign]
    (foreign / "bag_1.mcap").rename(foreign / "other.mcap")
    assert len(recordings(foreign)) == 2
