"""Big payloads through the publisher's shared-memory pool, on real Zenoh sessions."""

from __future__ import annotations

import os
import queue
import shutil
import signal
from pathlib import Path

import pytest
import zenoh
from mcap.reader import make_reader

from simrec_node.cli.mapped_memory import MappedMemoryCheck
from simrec_node.graph import LATCHED, RELIABLE, Node, TypeInfo
from simrec_node.graph.names import topic_to_key
from simrec_node.graph.publisher import Publisher
from simrec_node.graph.shared_memory import MIN_BYTES, POOL_BYTES, SharedMemoryPool, mapped_segment_bytes
from simrec_node.graph.zenoh_config import (
    build_config,
    locked_memory_limit,
    shared_memory_enabled,
    why_no_shared_memory,
)
from simrec_node.msgs import Tensor

from .conftest import drain, publisher_command, simrec_command, start_process, wait_for_line


def test_big_payloads_cross_processes_in_shared_memory(domain: str) -> None:
    """300 kB messages from another process go through its pool and arrive as shared memory."""
    if why_no_shared_memory():
        pytest.skip("shared memory is off for this user (ulimit -l)")
    samples: queue.Queue = queue.Queue()
    session = zenoh.open(build_config())
    try:
        session.declare_subscriber(topic_to_key(domain, "/custom"), samples.put)
        with Node("listener") as listener:
            listener.create_subscription(None, "/custom", lambda message: None)  # the ready signal
            process = start_process(
                publisher_command(
                    "--topic", "/custom", "--type", "custom", "--size", "300000", "--count", "20"
                ),
                domain,
            )
            try:
                done = wait_for_line(process.stdout, "published 20")
                received = drain(samples, 20)
                type_info = listener.lookup_type("test.Custom")
            finally:
                process.wait(timeout=20)
    finally:
        session.close()
    assert "(20 through the shared-memory pool)" in done
    assert len(received) == 20
    assert all(sample.payload.as_shm() is not None for sample in received)
    decoded = [type_info.message_class.FromString(sample.payload.to_bytes()) for sample in received]
    assert [d.values[0] for d in decoded] == [float(i) for i in range(20)]
    assert all(d.label == "x" * 300000 for d in decoded)


def test_a_full_pool_sends_payloads_the_network_way(domain: str) -> None:
    """A subscriber that keeps its samples pins the pool: later payloads still arrive, whole."""
    kept: queue.Queue = queue.Queue()
    pool = SharedMemoryPool(size=2 * 1024 * 1024)
    payloads = [bytes([i]) * (512 * 1024) for i in range(8)]
    with Node("talker") as node:
        node.session.declare_subscriber(topic_to_key(domain, "/big"), kept.put)
        publisher = Publisher(node.session, domain, "/big", TypeInfo.of(Tensor), RELIABLE, pool)
        assert publisher.wait_for_subscribers(10)
        for payload in payloads:
            publisher.publish(payload)
        received = drain(kept, len(payloads))
        publisher.close()
    assert [sample.payload.to_bytes() for sample in received] == payloads
    assert pool.shared >= 1
    assert pool.fallbacks >= 1
    assert pool.shared + pool.fallbacks == len(payloads)


def test_small_payloads_and_latched_topics_stay_out_of_the_pool(domain: str) -> None:
    pool = SharedMemoryPool(size=4 * 1024 * 1024)
    with Node("talker") as node:
        node.session.declare_subscriber(topic_to_key(domain, "/**"), lambda sample: None)
        small = Publisher(node.session, domain, "/small", TypeInfo.of(Tensor), RELIABLE, pool)
        big = Publisher(node.session, domain, "/big", TypeInfo.of(Tensor), RELIABLE, pool)
        # a late-joiner cache would keep its payloads' chunks for good
        latched = Publisher(node.session, domain, "/latched", TypeInfo.of(Tensor), LATCHED, pool)
        assert all(p.wait_for_subscribers(10) for p in (small, big, latched))
        small.publish(b"x" * (MIN_BYTES - 1))
        big.publish(b"x" * MIN_BYTES)
        latched.publish(b"x" * MIN_BYTES)
        for publisher in (small, big, latched):
            publisher.close()
    assert (pool.shared, pool.fallbacks) == (1, 0)


def test_a_payload_nobody_listens_to_is_not_copied(domain: str) -> None:
    """An in-process recorder shares every logged value on the graph: with no subscriber there,
    a frame must not cost a copy into shared memory."""
    pool = SharedMemoryPool(size=4 * 1024 * 1024)
    with Node("talker") as node:
        lonely = Publisher(node.session, domain, "/lonely", TypeInfo.of(Tensor), RELIABLE, pool)
        for _ in range(5):
            lonely.publish(b"x" * (1 << 20))
        lonely.close()
    assert (pool.shared, pool.fallbacks) == (0, 0)


def test_a_config_can_turn_shared_memory_off() -> None:
    config = zenoh.Config.from_json5('{"transport": {"shared_memory": {"enabled": false}}}')
    assert not shared_memory_enabled(config)
    # the defaults: on where memory may be locked without limit (root, CI), off elsewhere
    assert shared_memory_enabled(build_config()) == (locked_memory_limit() is None)


def _under_a_memory_lock_limit(command: list[str]) -> list[str]:
    """``command`` as a user whose locked memory is limited to 8 MiB (most Linux systems' default)."""
    if shutil.which("prlimit") is None or (os.geteuid() == 0 and shutil.which("setpriv") is None):
        pytest.skip("needs prlimit (and setpriv as root) from util-linux")
    limited = ["prlimit", f"--memlock={8 << 20}:{8 << 20}", *command]
    if os.geteuid() == 0:  # root's CAP_IPC_LOCK lifts the limit: drop it
        limited = ["setpriv", "--inh-caps=-ipc_lock", "--bounding-set=-ipc_lock", *limited]
    return limited


def test_under_a_memory_lock_limit_big_payloads_take_the_network_and_none_is_lost(
    domain: str, tmp_path: Path
) -> None:
    """Zenoh locks every pool it maps and a receiver keeps each publisher's pool until it exits:
    with shared memory on, a limited recorder lost the messages of the second publisher process.
    The defaults leave it off there, and ``record`` says why."""
    output = tmp_path / "limited.mcap"
    recorder = start_process(
        _under_a_memory_lock_limit(simrec_command("record", "-a", "-o", str(output))), domain
    )
    wait_for_line(recorder.stderr, "recording")
    note = wait_for_line(recorder.stderr, "note:")
    for generation in range(3):  # each publisher process would bring a pool of its own
        publisher = start_process(
            _under_a_memory_lock_limit(
                publisher_command("--topic", "/big", "--type", "custom", "--size", "300000", "--count", "20")
            ),
            domain,
        )
        out, err = publisher.communicate(timeout=60)
        assert publisher.returncode == 0, err
        assert "published 20 (0 through the shared-memory pool)" in out, (generation, out, err)
        assert "shared memory" not in err  # no pool was even tried
    recorder.send_signal(signal.SIGINT)
    _, err = recorder.communicate(timeout=30)
    assert recorder.returncode == 0, err
    assert "loopback TCP, not shared memory" in note and "ulimit -l" in note
    with output.open("rb") as f:
        sizes = [len(m.data) for _, _, m in make_reader(f, validate_crcs=True).iter_messages(topics=["/big"])]
    assert len(sizes) == 60 and min(sizes) > 300_000


def test_under_a_memory_lock_limit_serve_says_why_big_payloads_are_slower(domain: str) -> None:
    serve = start_process(
        _under_a_memory_lock_limit(simrec_command("serve", "--port", "0", "--duration", "1", "-q")), domain
    )
    _, err = serve.communicate(timeout=60)
    assert serve.returncode == 0, err
    assert "loopback TCP, not shared memory" in err and "ulimit -l" in err


def test_a_publisher_process_pool_stays_mapped_and_a_long_recording_is_told(
    domain: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Zenoh keeps a sender's pool mapped in the receiver after the sender exits (zenoh#2787):
    ``mapped_segment_bytes`` sees it, and ``record``'s check warns once past its limit."""
    if why_no_shared_memory():
        pytest.skip("shared memory is off for this user (ulimit -l)")
    before = mapped_segment_bytes()
    with Node("listener") as listener:
        listener.create_subscription(None, "/big", lambda message: None)
        publisher = start_process(
            publisher_command("--topic", "/big", "--type", "custom", "--size", "300000", "--count", "5"),
            domain,
        )
        out, err = publisher.communicate(timeout=60)
        assert "(5 through the shared-memory pool)" in out, err
    assert mapped_segment_bytes() - before >= POOL_BYTES  # the exited publisher's pool, still here
    check = MappedMemoryCheck(limit=before + POOL_BYTES)
    warning = check.poll(0.0)
    assert warning is not None and "stays mapped in this process" in warning and "zenoh#2787" in warning
    assert check.poll(100.0) is None  # said once
    assert capsys.readouterr().err.count("simrec: warning: ") == 1
