"""Ray Data over recorded logs: ``read_ray`` rows per message, episode and file equal the log's
values, ``simrec convert LOG... --ray`` writes what the serial run writes, and a local Ray started
by simrec listens on loopback only. One local Ray (2 CPUs, no dashboard) serves the module and is
shut down at its end, also when a test fails."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

import numpy as np
import pytest

from simrec_node.cli.main import main
from simrec_node.convert import NpzOptions, build_arrays, open_log
from simrec_node.datasets import DatasetError, read_ray
from simrec_node.errors import SimrecError
from tests.convert_logs import MS, clocks, state_batches, tensors, write_log


@pytest.fixture(scope="module")
def ray():
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    from simrec_node.datasets import start_ray

    started = start_ray(num_cpus=2)
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


@pytest.fixture
def logs(tmp_path: Path):
    """Three logs: episodes on env 0 (step 9) and envs 1, 2 (step 25); a short one with no done;
    and one with a second topic."""
    first, a = state_batches(40, 3, done_at={9: [0], 25: [1, 2]})
    second, b = state_batches(12, 3)
    third, c = state_batches(30, 3, done_at={14: [0, 1, 2]})
    third += clocks(7, period_ns=50 * MS) + tensors([(4, 5)] * 6)
    paths = [
        write_log(tmp_path / "a.mcap", first),
        write_log(tmp_path / "b.mcap", second),
        write_log(tmp_path / "c.mcap", third),
    ]
    return paths, [a, b, c]


def _state(path: Path) -> dict[str, np.ndarray]:
    arrays = build_arrays(open_log(path), NpzOptions(topics=("/sim/state",))).arrays
    return {k.removeprefix("/sim/state/"): v for k, v in arrays.items()}


def _listeners(pids: set[int]) -> list[tuple[str, int]]:
    """(address, pid) of every TCP socket listening in ``pids`` (from /proc: no ss needed)."""
    inodes: dict[str, str] = {}
    for name, family in (("tcp", 4), ("tcp6", 6)):
        for line in Path(f"/proc/net/{name}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] != "0A":  # LISTEN
                continue
            raw = bytes.fromhex(fields[1].split(":")[0])
            if family == 4:
                address = ".".join(str(x) for x in raw[::-1])
            else:
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                address = str(ipaddress.IPv6Address(words))
            inodes[fields[9]] = address
    found = []
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        for link in links:
            if link.startswith("socket:[") and link[8:-1] in inodes:
                found.append((inodes[link[8:-1]], pid))
    return found


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    found, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, parent in parents.items() if parent == pid]
        found.update(kids)
        frontier += kids
    return found


def test_every_listener_of_the_local_ray_is_on_loopback(ray) -> None:
    @ray.remote
    def square(x: int) -> int:
        return x * x

    assert ray.get([square.remote(i) for i in range(4)]) == [0, 1, 4, 9]
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    found = _listeners(_descendants(os.getpid()))
    # GCS, raylet (node manager + object manager), the driver's and the workers' gRPC servers...
    assert len(found) >= 4, found
    assert [a for a, _ in found if not _loopback(a)] == []


def _loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


def test_rows_per_message_are_the_logs_decoded_columns(ray, logs) -> None:
    paths, sources = logs
    batch = read_ray(paths, topics="/sim/state").take_batch(10_000, batch_format="numpy")
    assert len(batch["path"]) == 40 + 12 + 30
    for path, source in zip(paths, sources, strict=True):
        mine = batch["path"] == str(path)
        want = _state(path)
        assert batch["log_time"].dtype == np.int64 and batch["publish_time"].dtype == np.int64
        for key, value in want.items():
            got = np.stack(batch[key][mine]) if batch[key].dtype == object else batch[key][mine]
            assert got.shape == value.shape and got.dtype == value.dtype, key
            np.testing.assert_array_equal(got, value)
        np.testing.assert_array_equal(batch["tensors.qpos"][mine], source["tensors.qpos"])
    # the first log's episodes, as the converters number them
    first = batch["episode_index"][batch["path"] == str(paths[0])]
    assert first[:, 0].tolist() == [0] * 10 + [1] * 30 and first[:, 1].tolist() == [0] * 26 + [1] * 14


def test_rows_per_episode_never_cross_an_episode(ray, logs) -> None:
    paths, sources = logs
    rows = read_ray(paths, topics=["/sim/state"], rows="episode").take_all()
    # a: env 0 [0, 10) [10, 40), envs 1, 2 [0, 26) [26, 40); b: one per env; c: [0, 15) [15, 30)
    want = {0: [10, 30, 26, 14, 26, 14], 1: [12, 12, 12], 2: [15, 15, 15, 15, 15, 15]}
    for number, (path, source) in enumerate(zip(paths, sources, strict=True)):
        mine = [r for r in rows if r["path"] == str(path)]
        assert [int(r["length"]) for r in mine] == want[number]
        assert [int(r["episode_index"]) for r in mine] == list(range(len(mine)))
        at = dict.fromkeys(range(3), 0)
        for row in mine:
            env, length = int(row["env_index"]), int(row["length"])
            steps = slice(at[env], at[env] + length)
            np.testing.assert_array_equal(row["tensors.qpos"], source["tensors.qpos"][steps, env])
            np.testing.assert_array_equal(row["step"], source["step"][steps])
            assert row["timestamp"][0] == 0.0
            np.testing.assert_allclose(row["timestamp"], np.arange(length) * 0.01, atol=1e-9)
            # only an episode's last frame may be done
            assert not row["tensors.done"][:-1].any()
            at[env] += length
        assert all(v == len(source["step"]) for v in at.values())


def test_rows_per_file_hold_every_topic_whole(ray, logs) -> None:
    paths, _ = logs
    rows = read_ray(paths[2], rows="file").take_all()
    assert len(rows) == 1
    reference = build_arrays(open_log(paths[2]), NpzOptions()).arrays
    keys = [k for k in rows[0] if k != "path"]
    assert sorted(keys) == sorted(k for k, v in reference.items() if v.dtype != object)
    for key in keys:
        np.testing.assert_array_equal(rows[0][key], reference[key])
    # one topic: plain field names; logs of different lengths: one variable-shaped column
    both = read_ray(paths[:2], topics="/sim/state", rows="file").take_all()
    assert [r["tensors.qpos"].shape for r in both] == [(40, 3, 2), (12, 3, 2)]


def test_bad_reads_are_one_line_before_any_task(ray, logs, tmp_path: Path) -> None:
    paths, _ = logs
    with pytest.raises(DatasetError, match=r"rows='message' reads one topic .*3 \("):
        read_ray(paths[2])
    with pytest.raises(DatasetError, match="choose one of"):
        read_ray(paths, rows="frame")
    with pytest.raises(SimrecError, match=r"topic '/nope' is not in"):
        read_ray(paths, topics="/nope")
    with pytest.raises(SimrecError, match=r"missing\.mcap"):
        read_ray([tmp_path / "missing.mcap"])


def _tables(directory: Path) -> dict[str, object]:
    pq = pytest.importorskip("pyarrow.parquet")
    return {
        str(p.relative_to(directory)): pq.read_table(p)
        for p in sorted(directory.rglob("*.parquet"))
        if p.is_file()
    }


def test_convert_ray_writes_what_the_serial_run_writes(ray, logs, tmp_path: Path, capsys) -> None:
    paths, _ = logs
    out = tmp_path / "ray-out"
    code = main(["convert", *map(str, paths), "--ray", "-o", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    serial = tmp_path / "serial"
    serial.mkdir()
    for path in paths:
        assert main(["convert", str(path), "-o", str(serial / f"{path.stem}.parquet"), "-q"]) == 0
    got, want = _tables(out), _tables(serial)
    assert sorted(got) == sorted(want) and len(got) == 1 + 1 + 3, sorted(got)
    for name, table in want.items():
        assert got[name].equals(table, check_metadata=True), name
    # NPZ too, and the summary names each log
    capsys.readouterr()
    code = main(["convert", *map(str, paths), "--ray", "--format", "npz", "-o", str(tmp_path / "npz")])
    stdout = capsys.readouterr().out
    assert code == 0 and "wrote 3 npz outputs" in stdout and "a.mcap -> a.npz" in stdout
    with np.load(tmp_path / "npz" / "b.npz") as npz:
        np.testing.assert_array_equal(npz["/sim/state/tensors.qpos"], _state(paths[1])["tensors.qpos"])
    # their folder, which holds three separate logs (not one split recording's parts): each its own
    code = main(["convert", str(tmp_path), "--ray", "--format", "npz", "-o", str(tmp_path / "folder")])
    stdout = capsys.readouterr().out
    assert code == 0 and "wrote 3 npz outputs" in stdout and "c.mcap -> c.npz" in stdout
    # the serial run's options, every one (--keys short too)
    code = main(
        [
            "convert",
            str(paths[1]),
            "--ray",
            "--format",
            "npz",
            "--keys",
            "short",
            "-q",
            "-o",
            str(tmp_path / "s"),
        ]
    )
    assert code == 0
    with np.load(tmp_path / "s" / "b.npz") as npz:
        np.testing.assert_array_equal(npz["sim/state/qpos"], _state(paths[1])["tensors.qpos"])


def test_convert_ray_refuses_bad_input_before_writing(ray, logs, tmp_path: Path, capsys) -> None:
    paths, _ = logs
    out = tmp_path / "out"
    code = main(["convert", *map(str, paths), "--ray", "-o", str(out), "-t", "/clock"])
    err = capsys.readouterr().err
    assert code == 2 and "topic '/clock' is not in" in err and err.count("\n") == 1
    assert not out.exists() or not list(out.iterdir())
    other = tmp_path / "other"
    other.mkdir()
    twin = write_log(other / "a.mcap", state_batches(3, 1)[0])
    code = main(["convert", str(paths[0]), str(twin), "--ray", "-o", str(out)])
    assert code == 2 and "would both write" in capsys.readouterr().err
    assert main(["convert", str(paths[1]), "--ray", "-o", str(out), "-q"]) == 0
    code = main(["convert", str(paths[1]), "--ray", "-o", str(out)])
    assert code == 2 and "already exists" in capsys.readouterr().err
    code = main(["convert", str(paths[1]), "--ray", "--format", "mp4", "-o", str(out)])
    assert code == 2 and "--ray converts logs to parquet or npz" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["b.parquet"]


def test_a_log_that_fails_in_its_task_is_named_and_the_others_finish(ray, logs, tmp_path, capsys) -> None:
    paths, _ = logs
    out = tmp_path / "out"
    # b.mcap is 0.11 s long: --start 0.3 is past its end, not past a's or c's
    code = main(["convert", *map(str, paths), "--ray", "-o", str(out), "--start", "0.3", "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "1 of 3 logs failed" in err and "b.mcap: --start 0.3 is past the end" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.parquet", "c.parquet"]


def test_lerobot_on_ray_is_the_dataset_the_serial_export_writes(ray, tmp_path: Path, capsys) -> None:
    import json

    from tests.lerobot_logs import sim_log

    sim_log(tmp_path / "a.mcap", (10, 12))
    sim_log(tmp_path / "b.mcap", (8, 9))
    logs = [str(tmp_path / "a.mcap"), str(tmp_path / "b.mcap")]
    assert main(["convert", *logs, "--format", "lerobot", "-o", str(tmp_path / "serial"), "-q"]) == 0
    code = main(["convert", *logs, "--format", "lerobot", "--ray", "-o", str(tmp_path / "ray"), "-q"])
    assert code == 0, capsys.readouterr().err
    serial, on_ray = _tables(tmp_path / "serial"), _tables(tmp_path / "ray")
    assert sorted(on_ray) == sorted(serial)
    for name in ("data/chunk-000/file-000.parquet", "meta/tasks.parquet"):
        assert on_ray[name].equals(serial[name]), name
    info = json.loads((tmp_path / "ray/meta/info.json").read_text())
    assert info["total_episodes"] == 4 and info["total_frames"] == 39
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no part left
    # a second run into the same directory: refused before any task, the dataset untouched
    code = main(["convert", *logs, "--format", "lerobot", "--ray", "-o", str(tmp_path / "ray")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "--overwrite" in err, err


def test_without_ray_installed_the_message_says_how_to_get_it(monkeypatch, logs) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # ``import ray`` raises ImportError
    paths, _ = logs
    with pytest.raises(DatasetError, match=r"pip install 'simrec\[ray\]'"):
        read_ray(paths[0])
