"""Windowed torch datasets over episodes: per-frame episode/frame indexes, delta_timestamps-style
windows padded at episode edges, and DataLoader workers that together see every frame once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simrec_node.convert import ConvertError
from tests.convert_logs import state_batches, write_log

# env 0 ends an episode at step 9; envs 1 and 2 at step 25: six episodes over 40 steps x 3 envs
DONE_AT = {9: [0], 25: [1, 2]}
BOUNDS = {0: [(0, 10), (10, 40)], 1: [(0, 26), (26, 40)], 2: [(0, 26), (26, 40)]}


@pytest.fixture
def logs(tmp_path: Path):
    first, arrays = state_batches(40, 3, done_at=DONE_AT)
    second, other = state_batches(6, 3)
    return (
        [write_log(tmp_path / "a.mcap", first), write_log(tmp_path / "b.mcap", second)],
        [arrays, other],
    )


def _episode_of(env: int, step: int) -> tuple[int, int]:
    for start, end in BOUNDS[env]:
        if start <= step < end:
            return start, end
    raise AssertionError(step)


@pytest.mark.torch
def test_frames_carry_episode_and_frame_index(logs) -> None:
    pytest.importorskip("torch")
    from simrec_node.convert import EpisodeDataset

    paths, (arrays, other) = logs
    data = EpisodeDataset(paths)
    assert len(data) == 40 * 3 + 6 * 3
    assert data.num_episodes == 6 + 3  # the second log has no done: one episode per env
    seen = {}
    for i in range(len(data)):
        item = data[i]
        log = 0 if i < 120 else 1
        env, step = int(item["env_index"]), int(item["step"]) - 1
        source = arrays if log == 0 else other
        np.testing.assert_array_equal(item["tensors.qpos"].numpy(), source["tensors.qpos"][step, env])
        assert float(item["tensors.reward"]) == source["tensors.reward"][step, env]
        start = _episode_of(env, step)[0] if log == 0 else 0
        assert int(item["frame_index"]) == step - start
        assert float(item["timestamp"]) == pytest.approx((step - start) * 0.01)
        seen.setdefault(int(item["episode_index"]), set()).add((log, env, start))
    # each global episode is exactly one (log, env, episode) and the numbering has no gap
    assert sorted(seen) == list(range(9)) and all(len(v) == 1 for v in seen.values())
    assert len({next(iter(v)) for v in seen.values()}) == 9


@pytest.mark.torch
def test_windows_stay_inside_their_episode_and_pad_at_its_edges(logs) -> None:
    pytest.importorskip("torch")
    from simrec_node.convert import EpisodeDataset

    paths, (arrays, _) = logs
    offsets = [-0.03, -0.02, -0.01, 0.0, 0.01, 0.02]
    data = EpisodeDataset(paths[0], windows={"tensors.qpos": offsets, "tensors.done": [0.0, 0.01]})
    pads = 0
    for i in range(len(data)):
        item = data[i]
        env, step = int(item["env_index"]), int(item["step"]) - 1
        start, end = _episode_of(env, step)
        window, pad = item["tensors.qpos"].numpy(), item["tensors.qpos_is_pad"].numpy()
        assert window.shape == (6, 2) and pad.dtype == np.bool_
        for k, offset in enumerate(range(-3, 3)):
            want = step + offset
            inside = start <= want < end
            assert pad[k] == (not inside), (i, k)
            source = min(max(want, start), end - 1)  # a padded entry repeats the episode's edge frame
            np.testing.assert_array_equal(window[k], arrays["tensors.qpos"][source, env])
        pads += int(pad.sum())
        # the step that ends an episode has no next frame inside it
        done = item["tensors.done"].numpy()
        assert done[0] == arrays["tensors.done"][step, env]
        assert item["tensors.done_is_pad"].tolist() == [False, step == end - 1]
    assert pads > 0
    with pytest.raises(ConvertError, match=r"no field tensors\.nope"):
        EpisodeDataset(paths[0], windows={"tensors.nope": [0.0]})
    with pytest.raises(ConvertError, match="finite offsets"):
        EpisodeDataset(paths[0], windows={"tensors.qpos": []})


def _keys(batches) -> list[tuple[int, int, int]]:
    out = []
    for batch in batches:
        out += list(
            zip(
                batch["episode_index"].tolist(),
                batch["env_index"].tolist(),
                batch["step"].tolist(),
                strict=True,
            )
        )
    return out


@pytest.mark.torch
def test_dataloader_workers_see_every_frame_once(logs) -> None:
    torch = pytest.importorskip("torch")
    from simrec_node.convert import EpisodeDataset, EpisodeStream

    paths, _ = logs
    data = EpisodeDataset(paths, windows={"tensors.qpos": [-0.02, -0.01, 0.0]})
    everything = sorted(
        (int(data[i]["episode_index"]), int(data[i]["env_index"]), int(data[i]["step"]))
        for i in range(len(data))
    )
    assert len(set(everything)) == len(data) == 138
    mapped = torch.utils.data.DataLoader(data, batch_size=7, shuffle=True, num_workers=2)
    got = _keys(mapped)
    assert len(got) == len(data) and sorted(got) == everything
    # the stream hands each worker whole episodes: still every frame once, episodes unbroken
    stream = torch.utils.data.DataLoader(EpisodeStream(data), batch_size=5, num_workers=2)
    got = _keys(stream)
    assert len(got) == len(data) and sorted(got) == everything
    # alone (no workers) it yields episode after episode, each frame in order
    alone = [(int(x["episode_index"]), int(x["frame_index"])) for x in EpisodeStream(data)]
    assert alone == sorted(alone) and len(alone) == len(data)


@pytest.mark.torch
def test_a_list_of_indexes_is_the_batch_of_those_frames(logs) -> None:
    torch = pytest.importorskip("torch")
    from simrec_node.convert import EpisodeDataset

    paths, _ = logs
    data = EpisodeDataset(paths, windows={"tensors.qpos": [-0.02, 0.0, 0.01]})
    picks = [5, 0, 137, -1, 64]
    batch = data[picks]
    for key, value in batch.items():
        stacked = torch.stack([data[i][key] for i in picks])
        assert torch.equal(value, stacked), key
    got = []
    for batch in data.loader(16, shuffle=True, num_workers=2):
        assert batch["tensors.qpos"].shape[1:] == (3, 2)
        got += batch["index"].tolist()
    assert sorted(got) == list(range(len(data)))
    with pytest.raises(IndexError):
        data[[0, len(data)]]


@pytest.mark.torch
def test_worker_batches_through_shared_slots_equal_in_process_batches(logs) -> None:
    torch = pytest.importorskip("torch")
    from simrec_node.convert import EpisodeDataset

    paths, _ = logs
    data = EpisodeDataset(paths, windows={"tensors.qpos": [-0.02, -0.01, 0.0], "tensors.done": [0.0, 0.01]})
    # the fewest slots there can be (one batch in flight per worker), two workers, three passes:
    # every batch kept from every pass still holds its own frames (nothing was overwritten)
    loader = data.loader(5, num_workers=2, prefetch_factor=1, persistent_workers=True)
    assert len(loader) == -(-len(data) // 5)
    kept = [batch for _ in range(3) for batch in loader]
    assert len(kept) == 3 * len(loader)
    for number, batch in enumerate(kept):
        first = (number % len(loader)) * 5
        want = data[list(range(first, min(first + 5, len(data))))]
        assert batch.keys() == want.keys()
        for key, value in want.items():
            assert batch[key].dtype == value.dtype and torch.equal(batch[key], value), (number, key)
    # shuffled, without persistent workers: every frame once per pass
    seen = [i for batch in data.loader(16, shuffle=True, num_workers=1) for i in batch["index"].tolist()]
    assert sorted(seen) == list(range(len(data)))
