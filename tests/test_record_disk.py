"""The recorder against a disk that fills up or cannot keep up: real processes, a real small
file system (a tmpfs of a few MB, mounted by the test) and a real slow reader on a FIFO."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
from mcap.reader import make_reader

from simrec_node.record import McapWriter

from .conftest import publisher_command, simrec_command, start_process, wait_for_line
from .repair_logs import run_simrec
from .test_record import stop_recorder


def read_sequences(path: Path) -> list[int]:
    """Sequences of /fill in the file, read through its summary and index."""
    with path.open("rb") as f:
        return [m.sequence for _, _, m in make_reader(f, validate_crcs=True).iter_messages()]


def read_back(path: Path) -> tuple[list[int], dict[str, int]]:
    """Sequences of /fill in the file (read through its summary and index), and its stats."""
    with path.open("rb") as f:
        reader = make_reader(f, validate_crcs=True)
        summary = reader.get_summary()
        assert summary is not None, "the file has no summary: it was not closed"
        sequences = [m.sequence for _, _, m in reader.iter_messages()]
        assert summary.statistics.message_count == len(sequences)
        metadata = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
    return sequences, json.loads(metadata["simrec.topic_stats"]["/fill"])


def fill(domain: str, count: int, size: int, rate: float = 0) -> subprocess.Popen:
    return start_process(
        publisher_command(
            "--topic", "/fill", "--type", "custom", "--count", str(count), "--size", str(size),
            "--rate", str(rate), "--linger", "0.5",
        ),
        domain,
    )  # fmt: skip


def test_full_disk_closes_the_file_cleanly_and_exits_non_zero(domain: str, small_disk: Path) -> None:
    output = small_disk / "full.mcap"
    recorder = start_process(
        simrec_command(
            "record", "/fill", "-o", str(output), "--compression", "none", "--chunk-size", "200000",
            "--stats-period", "0", "-q",
        ),
        domain,
    )  # fmt: skip
    wait_for_line(recorder.stderr, "recording")
    publisher = fill(domain, 600, 20_000, rate=400)  # 12 MB at 8 MB/s into 3 MiB
    _, err = recorder.communicate(timeout=60)
    publisher.kill()
    publisher.wait()
    assert recorder.returncode == 1, err
    assert "the disk is full" in err and f"closed {output} cleanly" in err
    assert "Traceback" not in err
    sequences, stats = read_back(output)
    assert len(sequences) > 20 and sequences == sorted(set(sequences))
    assert stats["written"] == len(sequences)  # what the file says it holds, it holds
    assert stats["disk_dropped"] >= 1
    reported = int(err.split(" lost to a full disk")[0].rsplit(" ", 1)[1].replace(",", ""))
    assert reported >= stats["disk_dropped"]  # the report adds what was still queued when the file closed


def test_min_free_space_stops_before_the_disk_is_full(domain: str, small_disk: Path) -> None:
    output = small_disk / "reserve.mcap"
    recorder = start_process(
        simrec_command(
            "record", "/fill", "-o", str(output), "--compression", "none", "--chunk-size", "100000",
            "--min-free-space", "1M", "--stats-period", "0", "-q",
        ),
        domain,
    )  # fmt: skip
    wait_for_line(recorder.stderr, "recording")
    publisher = fill(domain, 400, 20_000, rate=200)
    _, err = recorder.communicate(timeout=60)
    publisher.kill()
    publisher.wait()
    assert recorder.returncode == 1, err
    assert "below --min-free-space" in err and "cleanly" in err
    sequences, stats = read_back(output)
    assert stats["written"] == len(sequences) > 10
    assert stats["disk_dropped"] == 0  # nothing was cut off: the file closed with room to spare
    assert shutil.disk_usage(small_disk).free >= 512 * 1024


def test_pause_on_full_disk_goes_on_in_the_next_file(domain: str, small_disk: Path, tmp_path: Path) -> None:
    ballast = small_disk / "ballast"
    ballast.write_bytes(os.urandom(1_500_000))
    output = small_disk / "paused"
    recorder = start_process(
        simrec_command(
            "record", "/fill", "-o", str(output), "--compression", "none", "--chunk-size", "100000",
            "--max-bag-size", "8M", "--on-disk-full", "pause", "--stats-period", "0", "-q",
        ),
        domain,
    )  # fmt: skip
    wait_for_line(recorder.stderr, "recording")
    publisher = fill(domain, 100_000, 10_000, rate=200)
    wait_for_line(publisher.stdout, "ready")
    deadline = time.monotonic() + 30
    while not (output / "paused_0.mcap").exists() or shutil.disk_usage(small_disk).free > 200_000:
        assert time.monotonic() < deadline, "the disk never filled"
        time.sleep(0.1)
    time.sleep(1.5)  # paused now; make room, as a user deleting old runs would
    ballast.unlink()
    deadline = time.monotonic() + 30
    while not (output / "paused_1.mcap").exists():
        assert time.monotonic() < deadline, "the recorder did not go on after room was made"
        time.sleep(0.1)
    time.sleep(1.0)
    err = stop_recorder(recorder)
    publisher.kill()
    publisher.wait()
    assert "paused until there is room again" in err

    def sequences_in(path: Path) -> list[int]:
        if f"{path} is left without its index" not in err:
            sequences, stats = read_back(path)
            assert stats["written"] == len(sequences)
            return sequences
        # The disk had no room even for the index (that depends on where the last chunk ended):
        # the recorder said so in its end report, and recover makes the file whole.
        assert f"simrec: warning: the disk is full (No space left on device): {path} is left" in err
        fixed = tmp_path / f"{path.stem}_fixed.mcap"
        recovered = run_simrec("recover", str(path), "-o", str(fixed), "-q")
        assert recovered.returncode == 0, recovered.stderr
        return read_sequences(fixed)

    first, second = sequences_in(output / "paused_0.mcap"), sequences_in(output / "paused_1.mcap")
    assert first and second and first[-1] < second[0]


def test_a_record_half_written_to_a_full_disk_is_cut_back(small_disk: Path) -> None:
    """A channel record that meets a full disk leaves no half record behind: once room is made
    the file goes on and closes with offsets that hold."""
    path = small_disk / "run.mcap"
    ballast = small_disk / "ballast"
    writer = McapWriter(path, compression="none")
    schema = writer.add_schema("test.S", "protobuf", b"")
    first = writer.add_channel("/first", "protobuf", schema)
    writer.write(first, 0, 1, 1, b"one")
    writer.flush()
    with ballast.open("wb", buffering=0) as fill_up, contextlib.suppress(OSError):
        while True:  # to the last byte: the file's last page keeps some slack of its own
            fill_up.write(b"\0" * 65536)
    size = path.stat().st_size
    with pytest.raises(OSError):
        writer.add_channel("/big", "protobuf", schema, {"note": "x" * 20_000})
    assert path.stat().st_size == size
    ballast.unlink()
    later = writer.add_channel("/later", "protobuf", schema)
    writer.write(later, 0, 2, 2, b"two")
    writer.close()
    with path.open("rb") as f:
        reader = make_reader(f, validate_crcs=True)
        summary = reader.get_summary()
        messages = [(channel.topic, message.data) for _, channel, message in reader.iter_messages()]
    assert sorted(c.topic for c in summary.channels.values()) == ["/first", "/later"]
    assert messages == [("/first", b"one"), ("/later", b"two")]


class SlowReader(threading.Thread):
    """The other end of a FIFO, reading at about ``rate`` bytes/s: a disk slower than the input."""

    def __init__(self, fifo: Path, copy: Path, rate: float) -> None:
        super().__init__(daemon=True)
        self.fifo, self.copy, self.rate = fifo, copy, rate

    def run(self) -> None:
        block = 64 * 1024
        with self.fifo.open("rb") as source, self.copy.open("wb") as sink:
            while data := source.read(block):
                sink.write(data)
                time.sleep(len(data) / self.rate)


def vm_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


def test_flood_into_a_slow_disk_keeps_memory_bounded_and_counts_every_drop(
    domain: str, tmp_path: Path
) -> None:
    fifo = tmp_path / "slow.mcap"
    os.mkfifo(fifo)
    copy = tmp_path / "copy.mcap"
    reader = SlowReader(fifo, copy, rate=4e6)
    reader.start()
    recorder = start_process(
        simrec_command(
            "record", "/fill", "-o", str(fifo), "--overwrite", "--when-full", "drop",
            "--max-cache-size", "2M", "--flush-interval", "0", "--compression", "none", "--stats-period", "0",
            "-q",
        ),
        domain,
    )  # fmt: skip
    wait_for_line(recorder.stderr, "recording")
    time.sleep(0.5)
    baseline_kib = vm_kib(recorder.pid, "VmRSS")
    count, size = 3000, 100_000  # 300 MB at full speed into a 4 MB/s disk
    publisher = fill(domain, count, size)
    _, publisher_err = publisher.communicate(timeout=120)
    assert publisher.returncode == 0, publisher_err
    peak_kib = vm_kib(recorder.pid, "VmHWM")
    err = stop_recorder(recorder)
    reader.join(timeout=60)
    sequences, stats = read_back(copy)
    missing = count - len(sequences)
    assert missing > count // 4  # the disk really was too slow
    assert stats["queue_dropped"] + stats["gap_dropped"] == missing  # every loss is counted, none twice
    assert stats["received"] + stats["gap_dropped"] == count
    assert f"{stats['queue_dropped']:,} dropped by a full queue" in err
    # 2 MiB of queue, the chunk being written, and the publisher's 16 MiB shared-memory pool mapped in as
    # it is read: nowhere near the 300 MB that went past.
    assert peak_kib - baseline_kib < 150 * 1024, (baseline_kib, peak_kib)


def test_memory_goes_back_after_a_backlog(domain: str, tmp_path: Path) -> None:
    """A disk slower than the input fills the queue; once it has drained, RSS comes back down
    (freed payloads returned to the OS), so a long recording's memory stays flat."""
    fifo = tmp_path / "slow.mcap"
    os.mkfifo(fifo)
    reader = SlowReader(fifo, tmp_path / "copy.mcap", rate=40e6)
    reader.start()
    recorder = start_process(
        simrec_command(
            "record", "/fill", "-o", str(fifo), "--overwrite", "--flush-interval", "0",
            "--compression", "none", "--stats-period", "0", "-q",
        ),
        domain,
    )  # fmt: skip
    wait_for_line(recorder.stderr, "recording")
    time.sleep(0.5)
    baseline_kib = vm_kib(recorder.pid, "RssAnon")
    publisher = fill(domain, 1500, 100_000)  # 150 MB into a 40 MB/s disk: the 64 MiB queue fills
    _, publisher_err = publisher.communicate(timeout=120)
    assert publisher.returncode == 0, publisher_err
    deadline = time.monotonic() + 60
    while True:
        status = subprocess.run(
            simrec_command("recorder", "status", "--json"),
            capture_output=True,
            text=True,
            env=domain_env(domain),
        )
        state = json.loads(status.stdout.splitlines()[0]) if status.returncode == 0 else {}
        if state.get("written") == 1500 and state.get("queued_bytes") == 0:
            break
        assert time.monotonic() < deadline, status.stdout + status.stderr
        time.sleep(0.5)
    assert state["peak_queued_bytes"] > 32 << 20  # there was a backlog
    time.sleep(1.0)
    after_kib = vm_kib(recorder.pid, "RssAnon")
    stop_recorder(recorder)
    reader.join(timeout=60)
    # Without giving memory back it stays ~85 MiB above the start (the queue's high-water mark).
    assert after_kib - baseline_kib < 40 * 1024, (baseline_kib, after_kib)


def domain_env(domain: str) -> dict[str, str]:
    return {**os.environ, "SIMREC_DOMAIN": domain}
