"""What the front (simrec_node/live/front.py) costs per relayed 1 MiB frame.

Every simrec server puts a front on the port viewers connect to; it relays each client's bytes
to and from foxglove-sdk on a private loopback port (an old-token client's through the frame
filter). This logs the same 1 MiB frames, paced, to a real Foxglove client
(tests/interop/live_client.mjs, not decoding, in a process of its own) connected three ways:

- ``direct``: to the SDK's own port, no front (what simrec served before the front);
- ``front``: through the front, ``foxglove.sdk.v1`` (bytes relayed as they come);
- ``front-old``: through the front, ``foxglove.websocket.v1`` (frames read by the filter);

and reports this process's CPU per frame (the server's send threads and the front's relay),
alternating the ways over rounds: the front's extra CPU per frame, against the SDK's own send
of it (``direct``) and a warm 1 MiB copy in Python. In user space the front never copies a
frame for ``foxglove.sdk.*`` clients (``os.splice``: socket to pipe to socket in the kernel) and
reads it once into a reused buffer for old-token (filtered) or TLS clients; the rest of its
cost is the kernel's socket work, one more receive and one more send per frame.

Run:  python benchmarks/bench_relay.py [--rounds 5] [--frames 200] [--rate 100]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import time
from pathlib import Path

import foxglove

from simrec_node.graph import TypeInfo
from simrec_node.live.front import OLD_TOKEN
from simrec_node.live.server import open_server
from simrec_node.msgs import CompressedImage

CLIENT = Path(__file__).resolve().parent.parent / "tests" / "interop" / "live_client.mjs"
WAYS = ("direct", "front", "front-old")
FRAME = 1 << 20
FRAME_TYPE = TypeInfo.of(CompressedImage)  # frames are not decoded: any schema the client can read


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_run(way: str, frames: int, rate: float) -> float:
    """CPU seconds of this process per frame delivered to the client."""
    context = foxglove.Context()
    channel = foxglove.Channel(
        "/frames",
        schema=foxglove.Schema(name=FRAME_TYPE.name, encoding="protobuf", data=FRAME_TYPE.descriptor_set),
        message_encoding="protobuf",
        context=context,
    )
    server = open_server(host="127.0.0.1", port=0, context=context, backlog=1024)
    port = server.sdk.port if way == "direct" else server.port
    token = OLD_TOKEN if way == "front-old" else "foxglove.sdk.v1"
    client = subprocess.Popen(
        [
            "node",
            str(CLIENT),
            f"ws://127.0.0.1:{port}",
            "--no-decode",
            "--count",
            str(frames),
            *("--protocol", token),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not channel.has_sinks():
            assert time.monotonic() < deadline, "the client never subscribed"
            time.sleep(0.01)
        payload = bytes(FRAME)
        cpu = _cpu_s()
        started = time.monotonic()
        for i in range(frames):
            channel.log(payload)
            time.sleep(max(0.0, started + (i + 1) / rate - time.monotonic()))
        assert client.wait(timeout=120) == 0, "the client did not get every frame"
        return (_cpu_s() - cpu) / frames
    finally:
        client.kill()
        server.stop()


def copy_s() -> float:
    """Seconds of one 1 MiB copy in Python (bytearray -> bytes), the median of many."""
    source = bytearray(FRAME)
    times = []
    for _ in range(200):
        started = time.perf_counter()
        bytes(source)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=200, help="1 MiB frames a run")
    parser.add_argument("--rate", type=float, default=100.0, help="frames per second")
    args = parser.parse_args()
    per_frame: dict[str, list[float]] = {way: [] for way in WAYS}
    copies = []
    for rnd in range(args.rounds):
        for way in WAYS if rnd % 2 == 0 else WAYS[::-1]:
            per_frame[way].append(one_run(way, args.frames, args.rate))
        copies.append(copy_s())
    copy = statistics.median(copies)
    direct = statistics.median(per_frame["direct"])
    print(f"1 MiB frames, {args.frames} a run at {args.rate:g}/s, {args.rounds} rounds (medians):")
    print(f"  one 1 MiB copy in Python: {copy * 1e6:.0f} us")
    for way in WAYS:
        cpu = statistics.median(per_frame[way])
        extra = cpu - direct
        note = (
            ""
            if way == "direct"
            else f", the front adds {extra * 1e6:.0f} us ({extra / direct:.2f}x the SDK's own send, "
            f"{extra / copy:.0f}x a warm in-process copy)"
        )
        runs = " ".join(f"{c * 1e6:.0f}" for c in per_frame[way])
        print(f"  {way}: {cpu * 1e6:.0f} us of CPU a frame{note} (runs: {runs})")


if __name__ == "__main__":
    main()
