"""Damaged logs through ``info``, ``doctor``, ``recover``, ``convert`` and ``play``: count the
tracebacks and the hangs (both must be 0).

    python benchmarks/fuzz_logs.py [--logs 1000] [--seed 1] [--timeout 20] [--zero-tail-mib 64]

Each damaged log is run through the five commands in this process (``simrec_node.cli.main``
for info, doctor, recover and convert; play's reading path, ``LogSource.messages`` and
``latest_at``, for play), each call under a SIGALRM watchdog: a call that raises anything but a
``SimrecError`` is a traceback, one that outlives ``--timeout`` is a hang. Damage: truncation
anywhere, flipped bits, zeroed ranges, a missing middle section, duplicated and reordered
chunks, lying summary statistics, ``log_time`` >= 2**63, a tail of zeros as a power cut leaves
it, and a named pipe or a directory given as the file. ``tests/test_fuzz_logs.py`` runs a
bounded version of the same cases.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import signal
import struct
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

COMMANDS = ("info", "doctor", "recover", "convert", "play")
T0 = 1_700_000_000_000_000_000
MS = 1_000_000


# ---------------------------------------------------------------- base logs


def write_base(path: Path, *, steps: int = 300, huge_times: bool = False, chunk_size: int = 8 * 1024) -> Path:
    """A simrec log: StateBatch, Scalars and Episode topics over several small chunks."""
    from simrec_node.msgs import Episode, Scalars, StateBatch, descriptor_set_of, encode_state_batch
    from simrec_node.record import McapWriter

    base = (1 << 63) + 5 if huge_times else T0
    with McapWriter(path, chunk_size=chunk_size) as writer:
        ids = {}
        for topic, cls in (("/sim/state", StateBatch), ("/sim/reward", Scalars), ("/episodes", Episode)):
            schema = writer.add_schema(cls.DESCRIPTOR.full_name, "protobuf", descriptor_set_of(cls))
            ids[topic] = writer.add_channel(topic, "protobuf", schema)
        writer.add_metadata("simrec.recording", {"command_line": "fuzz", "host": "here"})
        for i in range(steps):
            t = base + i * 10 * MS
            qpos = np.full((4, 3), i, dtype=np.float32)
            data = encode_state_batch({"qpos": qpos, "reward": np.full(4, 0.5)}, step=i, sim_time=i * 0.01)
            writer.write(ids["/sim/state"], i, t, t, data)
            reward = Scalars()
            reward.values["r"] = float(i)
            writer.write(ids["/sim/reward"], i, t + 1, t + 1, reward.SerializeToString())
            if i % 50 == 49:
                episode = Episode(env_index=0, episode_return=float(i), length=50)
                writer.write(ids["/episodes"], i, t + 2, t + 2, episode.SerializeToString())
        writer.add_metadata("simrec.topic_stats", {"/sim/state": '{"received": 1}'})
    return path


def chunk_spans(data: bytes) -> list[tuple[int, int]]:
    """``(start, end)`` of each chunk with its message indexes, by framing (the file is whole)."""
    spans, pos = [], 8
    while pos + 9 <= len(data):
        opcode, length = struct.unpack_from("<BQ", data, pos)
        end = pos + 9 + length
        if opcode == 0x06:
            spans.append([pos, end])
        elif opcode == 0x07 and spans and spans[-1][1] == pos:
            spans[-1][1] = end
        elif opcode in (0x0F, 0x02):
            break
        pos = end
    return [(a, b) for a, b in spans]


def statistics_offset(data: bytes) -> int | None:
    """Offset of the Statistics record's body in the summary (from the footer)."""
    summary_start, offsets_start = struct.unpack_from("<QQ", data, len(data) - 8 - 20)
    pos = summary_start
    while 0 < pos < offsets_start:
        opcode, length = struct.unpack_from("<BQ", data, pos)
        if opcode == 0x0B:
            return pos + 9
        pos += 9 + length
    return None


# ---------------------------------------------------------------- damage


def damaged(base: bytes, rng: random.Random) -> Iterator[tuple[str, bytes]]:
    """Endless damaged variants of ``base`` (a whole log), named by their kind."""
    chunks = chunk_spans(base)
    stats = statistics_offset(base)
    n = len(base)
    while True:
        kind = rng.choice(
            ("truncate", "flip", "zero", "middle", "duplicate", "reorder", "stats", "flip-many", "zero-tail")
        )
        data = bytearray(base)
        if kind == "truncate":
            yield kind, bytes(data[: rng.randrange(0, n)])
        elif kind in ("flip", "flip-many"):
            for _ in range(1 if kind == "flip" else rng.randint(2, 64)):
                data[rng.randrange(8, n)] ^= 1 << rng.randrange(8)
            yield kind, bytes(data)
        elif kind == "zero":
            at, length = rng.randrange(8, n), rng.randint(1, 4096)
            data[at : at + length] = bytes(len(data[at : at + length]))
            yield kind, bytes(data)
        elif kind == "middle":
            a, b = sorted(rng.sample(range(8, n), 2))
            yield kind, bytes(data[:a] + data[b:])
        elif kind == "duplicate" and chunks:
            a, b = rng.choice(chunks)
            yield kind, bytes(data[:b] + data[a:b] + data[b:])
        elif kind == "reorder" and len(chunks) > 1:
            (a1, b1), (a2, b2) = sorted(rng.sample(chunks, 2))
            yield kind, bytes(data[:a1] + data[a2:b2] + data[b1:a2] + data[a1:b1] + data[b2:])
        elif kind == "stats" and stats is not None:
            # counts, times, and the high bytes of the per-channel counts (a topic of 2**56 messages)
            at = stats + rng.choice((0, 7, 26, 34, 46 + 2 + 6, 46 + 10 + 2 + 6, rng.randrange(0, 80)))
            data[at] ^= 1 << rng.randrange(8)
            data[stats + 3] ^= 0x40  # message_count: a lie by 2**30 at least
            yield kind, bytes(data)
        elif kind == "zero-tail":
            cut = rng.randrange(n // 2, n)
            yield kind, bytes(data[:cut]) + bytes(rng.randint(1, 1 << 20))


# ---------------------------------------------------------------- running


@dataclass
class Outcome:
    counts: Counter = field(default_factory=Counter)  # (command, "ok" | "traceback" | "hang")
    examples: dict[tuple[str, str], str] = field(default_factory=dict)  # first traceback per place
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, command: str, result: str, detail: str = "") -> None:
        self.counts[(command, result)] += 1
        if result != "ok":
            lines = detail.strip().splitlines() or [result]
            where = next((line.strip() for line in reversed(lines) if line.strip().startswith("File ")), "")
            self.examples.setdefault((command, lines[-1].split(":")[0] + " " + where), detail)

    def total(self, result: str) -> int:
        return sum(v for (_, r), v in self.counts.items() if r == result)


class _Hang(BaseException):
    """Raised by the watchdog's alarm in a call that ran past its time."""


def _alarm(_signum: int, _frame: object) -> None:
    raise _Hang


def _call(fn: Callable[[], object], timeout: float) -> tuple[str, str]:
    """Run ``fn`` in this (main) thread under a SIGALRM watchdog: ("ok" | "traceback" | "hang",
    detail). The alarm interrupts a blocking ``open`` of a pipe too; the call runs on the main
    thread, as the CLI does (convert installs signal handlers)."""
    from simrec_node.errors import SimrecError

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        fn()
        return "ok", ""
    except _Hang:
        return "hang", f"did not finish in {timeout} s"
    except SimrecError:
        return "ok", ""
    except SystemExit as exc:
        return ("ok", "") if exc.code in (0, 1, 2, None) else ("traceback", f"exit {exc.code}")
    except BaseException:
        return "traceback", traceback.format_exc(limit=-3)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _play(path: str) -> None:
    """Play's reading path: every message from the start, then a look-back from the middle."""
    from simrec_node.play.source import LogSource

    source = LogSource(path)
    try:
        for _ in source.messages(source.start_ns):
            pass
        source.latest_at((source.start_ns + source.end_ns) // 2)
        _ = source.read_error
    finally:
        source.close()


def run_commands(path: str, workdir: Path, timeout: float, outcome: Outcome) -> None:
    """The five commands on ``path``; results (and seconds per command) added to ``outcome``."""
    for command in COMMANDS:
        began = time.perf_counter()
        run_one(command, path, workdir, timeout, outcome)
        outcome.seconds[command] = outcome.seconds.get(command, 0.0) + time.perf_counter() - began


def run_one(command: str, path: str, workdir: Path, timeout: float, outcome: Outcome) -> None:
    """One command on ``path``, in this process, on a watchdog thread."""
    from simrec_node.cli.main import main

    argv = {
        "info": ["info", path],
        "doctor": ["doctor", path],
        "recover": ["recover", path, "-o", str(workdir / "fixed.mcap"), "--overwrite", "-q"],
        "convert": ["convert", path, "-o", str(workdir / "out.npz"), "--overwrite", "-q"],
    }.get(command)
    fn: Callable[[], object] = (lambda: _play(path)) if argv is None else (lambda: main(argv))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        result, detail = _call(fn, timeout)
    outcome.add(command, result, detail)


def fuzz(workdir: Path, logs: int, seed: int, timeout: float, zero_tail_mib: int = 0) -> Outcome:
    """``logs`` damaged logs (plus the special cases) through the five commands."""
    rng = random.Random(seed)
    outcome = Outcome()
    base = write_base(workdir / "base.mcap").read_bytes()
    case = workdir / "case.mcap"
    variants = damaged(base, rng)
    specials = _specials(workdir, zero_tail_mib)
    for i in range(logs):
        if i < len(specials):
            path = specials[i]
        else:
            _, data = next(variants)
            case.write_bytes(data)
            path = str(case)
        run_commands(path, workdir, timeout, outcome)
    return outcome


def _specials(workdir: Path, zero_tail_mib: int) -> list[str]:
    """A named pipe, a directory, a log with log_time >= 2**63, and a zero tail."""
    out = []
    if hasattr(os, "mkfifo"):
        pipe = workdir / "pipe.mcap"
        if not pipe.exists():
            os.mkfifo(pipe)
        out.append(str(pipe))
    folder = workdir / "folder.mcap"
    folder.mkdir(exist_ok=True)
    out.append(str(folder))
    out.append(str(write_base(workdir / "huge_times.mcap", steps=60, huge_times=True)))
    if zero_tail_mib:
        tail = workdir / "zero_tail.mcap"
        data = (workdir / "base.mcap").read_bytes()
        with open(tail, "wb") as f:
            f.write(data[: len(data) * 3 // 4])
            f.truncate(len(data) * 3 // 4 + zero_tail_mib * (1 << 20))  # zeros, as a power cut leaves
        out.append(str(tail))
    return out


def zero_tail_seconds(workdir: Path, mib: int, timeout: float) -> dict[str, float]:
    """Seconds each command takes on a log followed by ``mib`` MiB of zeros, against reading them."""
    tail = workdir / "zero_tail.mcap"
    if not tail.exists():
        _specials(workdir, mib)
    began = time.perf_counter()
    with open(tail, "rb") as f:
        while f.read(1 << 24):
            pass
    out = {"read the file once": time.perf_counter() - began}
    for command in COMMANDS:
        began = time.perf_counter()
        run_one(command, str(tail), workdir, timeout, Outcome())
        out[command] = time.perf_counter() - began
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds before a call counts as a hang")
    parser.add_argument("--zero-tail-mib", type=int, default=64)
    parser.add_argument("--examples", type=int, default=10, help="distinct failures printed")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="simrec-fuzz-") as tmp:
        workdir = Path(tmp)
        began = time.perf_counter()
        outcome = fuzz(workdir, args.logs, args.seed, args.timeout)
        elapsed = time.perf_counter() - began
        print(f"{args.logs} logs x {len(COMMANDS)} commands in {elapsed:.0f} s (seed {args.seed})")
        for command in COMMANDS:
            row = {r: outcome.counts[(command, r)] for r in ("ok", "traceback", "hang")}
            print(
                f"  {command:<8} ok {row['ok']:>5}  tracebacks {row['traceback']:>4}  hangs {row['hang']:>3}"
            )
        print(f"tracebacks: {outcome.total('traceback')}  hangs: {outcome.total('hang')}")
        for (command, last), detail in list(outcome.examples.items())[: args.examples]:
            print(f"--- {command}: {last}\n{detail}")
        if args.zero_tail_mib:
            times = zero_tail_seconds(workdir, args.zero_tail_mib, args.timeout)
            print(f"a log with a {args.zero_tail_mib} MiB zero tail (seconds):")
            for what, seconds in times.items():
                print(f"  {what:<20} {seconds:.2f}")
    return 1 if outcome.total("traceback") or outcome.total("hang") else 0


if __name__ == "__main__":
    sys.exit(main())
