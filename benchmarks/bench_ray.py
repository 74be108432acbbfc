"""``simrec convert LOG... --ray`` on 8 logs against one process converting them one after another.

    python benchmarks/bench_ray.py [--logs 8] [--steps 6000] [--envs 16] [--dof 32] [--reps 3]

Writes ``--logs`` logs of StateBatch steps (``[envs, dof]`` float32 fields, an episode end every
200 steps), then times, in the same run, each converting every log to Parquet:

- serial: one process calling the converter on each log in turn (``convert_one``, what
  ``simrec convert LOG -o LOG.parquet`` does, without the process start);
- ``--ray`` cold: ``convert_many`` starting a local Ray (2 CPUs here, loopback), running one task
  per log and shutting Ray down: what ``simrec convert --ray`` costs end to end, start included;
- ``--ray`` warm: the same tasks on a Ray that is already up, its workers started (a cluster's
  case, ``--ray-address``), alternated with serial runs ``--reps`` times; the goal is judged on
  the median of these paired ratios (the machine's load drifts between pairs less than across).

- no Ray: a ``multiprocessing.Pool`` of as many processes converting the same logs, alternated with
  the others: the most this machine gives two processes at the moment (other work shares it).

The outputs of every way are checked equal to the serial run's. Target: ``--ray`` >= 1.3x serial.
"""

from __future__ import annotations

import argparse
import multiprocessing
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout, uninstalled

from simrec_node.convert import ParquetOptions
from simrec_node.datasets import convert_many, ray_session
from simrec_node.datasets.ray_convert import convert_one, output_for
from simrec_node.msgs import StateBatch, descriptor_set_of, encode_state_batch
from simrec_node.record import McapWriter

T0 = 1_700_000_000_000_000_000
PERIOD = 10_000_000
TARGET = 1.3


def write(path: Path, steps: int, envs: int, dof: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    qpos = rng.standard_normal((envs, dof), dtype=np.float32)
    with McapWriter(path) as writer:
        schema = writer.add_schema("simrec.StateBatch", "protobuf", descriptor_set_of(StateBatch))
        channel = writer.add_channel("/sim/state", "protobuf", schema)
        for i in range(steps):
            qpos += 0.01
            done = np.full(envs, (i + 1) % 200 == 0)
            fields = {"qpos": qpos, "qvel": qpos * 2, "action": qpos[:, :8], "done": done}
            data = encode_state_batch(fields, step=i + 1, sim_time=i * 0.01)
            writer.write(channel, i + 1, T0 + i * PERIOD, T0 + i * PERIOD, data)


def serial(logs: list[Path], out: Path) -> float:
    out.mkdir()
    t = time.perf_counter()
    for log in logs:
        convert_one("parquet", str(log), output_for(log, out, ".parquet"), ParquetOptions(), False)
    return time.perf_counter() - t


def _one(job: tuple[Path, Path]) -> None:
    log, out = job
    convert_one("parquet", str(log), output_for(log, out, ".parquet"), ParquetOptions(), False)


def pool(workers, logs: list[Path], out: Path) -> float:
    """The machine's own ceiling for the same work: a plain process pool, no Ray."""
    out.mkdir()
    t = time.perf_counter()
    workers.map(_one, [(log, out) for log in logs], chunksize=1)
    return time.perf_counter() - t


def on_ray(logs: list[Path], out: Path) -> float:
    t = time.perf_counter()
    convert_many(logs, out, "parquet", ParquetOptions())
    return time.perf_counter() - t


def same(a: Path, b: Path) -> None:
    import pyarrow.parquet as pq

    files = sorted(p.relative_to(a) for p in a.rglob("*.parquet") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*.parquet") if p.is_file())
    for name in files:
        assert pq.read_table(a / name).equals(pq.read_table(b / name), check_metadata=True), name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6000)
    parser.add_argument("--envs", type=int, default=16)
    parser.add_argument("--dof", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        logs = [root / f"run{i}.mcap" for i in range(args.logs)]
        for i, log in enumerate(logs):
            write(log, args.steps, args.envs, args.dof, i)
        size = sum(p.stat().st_size for p in logs) / 2**20
        print(
            f"{args.logs} logs of {args.steps} steps x {args.envs} envs ([{args.dof}] qpos, qvel, "
            f"[8] action, done), {size:.0f} MiB in all -> Parquet"
        )
        runs = iter(range(10_000))

        def fresh() -> Path:
            path = root / f"out{next(runs)}"
            shutil.rmtree(path, ignore_errors=True)
            return path

        reference = fresh()
        times = {"serial": [serial(logs, reference)]}
        cold_out = fresh()
        times["ray cold"] = [on_ray(logs, cold_out)]  # starts and stops a local Ray
        same(reference, cold_out)
        times["ray warm"] = []
        times["pool"] = []
        pairs = []
        with ray_session(num_cpus=args.cpus), multiprocessing.get_context("spawn").Pool(args.cpus) as workers:
            pool(workers, logs[: args.cpus], fresh())  # untimed: imports simrec in the pool's processes
            warm_out = fresh()
            on_ray(logs, warm_out)  # untimed: starts the workers and imports simrec in them
            same(reference, warm_out)
            for _ in range(args.reps):
                times["serial"].append(serial(logs, fresh()))
                times["ray warm"].append(on_ray(logs, fresh()))
                times["pool"].append(pool(workers, logs, fresh()))
                pairs.append(times["serial"][-1] / times["ray warm"][-1])
        times["serial"].append(serial(logs, fresh()))
        times["ray cold"].append(on_ray(logs, fresh()))
    base = statistics.median(times["serial"])
    print(
        f"{'serial (one process, log after log)':40s}: {base:.2f} s  {[round(v, 2) for v in times['serial']]}"
    )
    labels = {
        "ray cold": "--ray, local Ray started and stopped",
        "ray warm": "--ray on a running Ray",
        "pool": f"no Ray: multiprocessing.Pool({args.cpus})",
    }
    for name, label in labels.items():
        value = statistics.median(times[name])
        rounded = [round(v, 2) for v in times[name]]
        print(f"{label:40s}: {value:.2f} s, {base / value:.2f}x serial  {rounded}")
    print(f"paired (serial / --ray warm, run after run): {[round(p, 2) for p in pairs]}")
    warm = statistics.median(pairs)
    cold = base / statistics.median(times["ray cold"])
    print(
        f"goal --ray >= {TARGET}x serial: warm {warm:.2f}x {'met' if warm >= TARGET else 'NOT met'}, "
        f"cold (Ray start included) {cold:.2f}x {'met' if cold >= TARGET else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
