"""A batch of cart-poles on a fixed-step integrator: the demo's stand-in for a GPU simulator.

Each env is a cart on a rail carrying a pole, balanced by an LQR controller that tracks a
slowly moving cart target. Actuator noise and random pushes (different strength per env)
knock some poles over, so the batch has real episode structure: per-env reward, ``done``
flags when a pole falls, the cart leaves the rail or the episode times out, and resets.
Everything is vectorised numpy over ``[num_envs, ...]`` float32 arrays and is deterministic
for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

GRAVITY = 9.81
CART_MASS = 1.0
POLE_MASS = 0.1
POLE_HALF_LENGTH = 0.5  # m: the pole is 1 m long, the bob sits at its tip
PIVOT_HEIGHT = 0.25  # m: where the pole is hinged, above the rail (drawing only)
RAIL_LIMIT = 2.4  # m: the cart falls off the rail beyond this
FALL_ANGLE = 0.6  # rad: the pole counts as fallen beyond this
MAX_FORCE = 20.0  # N
PUSH_RATE = 2.0  # most pushes per second an env gets
PUSH_STRENGTH = 4.5  # rad/s: the hardest push's spin
MAX_SUBSTEP = 0.005  # s: the integrator's largest step, whatever the publish rate


@dataclass(frozen=True)
class StepResult:
    """What one ``CartPoleBatch.step`` produced, as the arrays a StateBatch carries."""

    qpos: np.ndarray  # [N, 2] float32: cart x (m), pole angle (rad, 0 = upright)
    qvel: np.ndarray  # [N, 2] float32
    action: np.ndarray  # [N, 1] float32: the force applied (N)
    reward: np.ndarray  # [N] float32
    done: np.ndarray  # [N] bool: the episode ended at this step (reset before the next)
    episode_step: np.ndarray  # [N] int32: steps into the current episode


class CartPoleBatch:
    """``num_envs`` cart-poles advanced together by ``step()``, ``dt`` seconds a step.

    An env whose episode ended is reset at the start of the following step, so the state
    returned with ``done=True`` is the terminal one (as a recording should show it).
    """

    def __init__(
        self, num_envs: int = 16, *, dt: float = 0.01, seed: int = 0, max_episode_s: float = 10.0
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be at least 1, got {num_envs}")
        if dt <= 0:
            raise ValueError(f"dt must be positive, got {dt}")
        self.num_envs = num_envs
        self.dt = dt
        self.substeps = max(1, int(np.ceil(dt / MAX_SUBSTEP - 1e-9)))
        self.max_episode_steps = max(1, round(max_episode_s / dt))
        self.step_count = 0
        self.episodes_finished = 0
        self.falls = 0
        self.last_returns: list[float] = []  # returns of the episodes that ended at the last step
        self._rng = np.random.default_rng(seed)
        self._gain = _lqr_gain(dt, self.substeps)
        self.action_scale = 1.0  # the controller's force is multiplied by this (0: no control)
        n = num_envs
        self.qpos = np.zeros((n, 2), np.float32)
        self.qvel = np.zeros((n, 2), np.float32)
        self.action = np.zeros((n, 1), np.float32)
        self.reward = np.zeros(n, np.float32)
        self.done = np.zeros(n, bool)
        self.episode_step = np.zeros(n, np.int32)
        self.episode_return = np.zeros(n, np.float32)
        # Per-env character: how noisy the actuator is, how often it is pushed, what it tracks.
        self._noise = np.zeros(n, np.float32)
        self._push_rate = np.zeros(n, np.float32)  # pushes per second
        self._push_strength = np.zeros(n, np.float32)  # rad/s of pole spin per push
        self._target_amp = np.zeros(n, np.float32)
        self._target_freq = np.zeros(n, np.float32)
        self._target_phase = np.zeros(n, np.float32)
        self._reset(np.ones(n, bool))

    @property
    def sim_time(self) -> float:
        return self.step_count * self.dt

    def bob_positions(self) -> np.ndarray:
        """``[N, 2]`` (x, z) of each pole tip, metres, z up from the rail."""
        return bob_positions(self.qpos)

    def step(self) -> StepResult:
        """Advance every env by ``dt``: reset finished ones, control, integrate, score."""
        if self.done.any():
            self._reset(self.done)
        rng = self._rng
        n = self.num_envs
        t = np.float32(self.sim_time)
        target = self._target_amp * np.sin(self._target_freq * t + self._target_phase)
        error = np.stack([self.qpos[:, 0] - target, self.qpos[:, 1], self.qvel[:, 0], self.qvel[:, 1]], 1)
        force = -(error @ self._gain) + self._noise * rng.standard_normal(n, dtype=np.float32)
        force = np.clip(force * self.action_scale, -MAX_FORCE, MAX_FORCE).astype(np.float32)
        pushed = rng.random(n, dtype=np.float32) < self._push_rate * np.float32(self.dt)
        kick = self._push_strength * rng.standard_normal(n, dtype=np.float32)
        self.qvel[:, 1] += np.where(pushed, kick, np.float32(0))
        h = np.float32(self.dt / self.substeps)
        for _ in range(self.substeps):
            x_acc, theta_acc = _accelerations(self.qpos[:, 1], self.qvel[:, 1], force)
            self.qvel[:, 0] += h * x_acc  # semi-implicit Euler: velocities first,
            self.qvel[:, 1] += h * theta_acc
            self.qpos += h * self.qvel  # then positions with the new velocities
        self.action[:, 0] = force
        x, theta = self.qpos[:, 0], self.qpos[:, 1]
        self.reward = (np.cos(theta) - 0.05 * x * x - 0.0005 * force * force).astype(np.float32)
        self.episode_step += 1
        self.episode_return += self.reward
        fell = (np.abs(theta) > FALL_ANGLE) | (np.abs(x) > RAIL_LIMIT)
        self.done = fell | (self.episode_step >= self.max_episode_steps)
        self.last_returns = self.episode_return[self.done].tolist()
        self.episodes_finished += int(self.done.sum())
        self.falls += int(fell.sum())
        self.step_count += 1
        return StepResult(
            self.qpos.copy(),
            self.qvel.copy(),
            self.action.copy(),
            self.reward.copy(),
            self.done.copy(),
            self.episode_step.copy(),
        )

    def _reset(self, mask: np.ndarray) -> None:
        """New episodes for the envs in ``mask``: a small random tilt and a new character."""
        k = int(mask.sum())
        rng = self._rng
        self.qpos[mask] = rng.uniform(-0.05, 0.05, (k, 2)).astype(np.float32) * [20, 1]
        self.qvel[mask] = rng.uniform(-0.05, 0.05, (k, 2)).astype(np.float32)
        self.episode_step[mask] = 0
        self.episode_return[mask] = 0
        self._noise[mask] = rng.uniform(0.0, 12.0, k)
        self._push_rate[mask] = rng.uniform(0.0, PUSH_RATE, k)
        self._push_strength[mask] = rng.uniform(0.5, PUSH_STRENGTH, k)
        self._target_amp[mask] = rng.uniform(0.2, 1.5, k)
        self._target_freq[mask] = rng.uniform(0.3, 1.5, k)
        self._target_phase[mask] = rng.uniform(0, 2 * np.pi, k)


def bob_positions(qpos: np.ndarray) -> np.ndarray:
    """``[N, 2]`` (x, z) of the pole tips for ``qpos`` ``[N, 2]``, metres, z up from the rail."""
    x, theta = qpos[:, 0], qpos[:, 1]
    length = 2 * POLE_HALF_LENGTH
    return np.stack([x + length * np.sin(theta), PIVOT_HEIGHT + length * np.cos(theta)], axis=1)


def _accelerations(theta: np.ndarray, theta_dot: np.ndarray, force: np.ndarray) -> tuple:
    """Cart-pole equations of motion (Barto, Sutton & Anderson 1983), theta = 0 upright."""
    total = CART_MASS + POLE_MASS
    sin, cos = np.sin(theta), np.cos(theta)
    temp = (force + POLE_MASS * POLE_HALF_LENGTH * theta_dot * theta_dot * sin) / total
    theta_acc = (GRAVITY * sin - cos * temp) / (
        POLE_HALF_LENGTH * (4.0 / 3.0 - POLE_MASS * cos * cos / total)
    )
    x_acc = temp - POLE_MASS * POLE_HALF_LENGTH * theta_acc * cos / total
    return x_acc, theta_acc


def _lqr_gain(dt: float, substeps: int) -> np.ndarray:
    """A stabilising state-feedback gain ``[4]`` for the linearised cart-pole.

    Computed (discrete Riccati iteration on the integrator's own linearised step map) rather
    than hard-coded, so it stays right at whatever rate the demo runs. The error state is
    (x - target, theta, x_dot, theta_dot).
    """
    total = CART_MASS + POLE_MASS
    denominator = POLE_HALF_LENGTH * (4.0 / 3.0 - POLE_MASS / total)
    a_theta = GRAVITY / denominator  # d theta_acc / d theta
    b_theta = -1.0 / (total * denominator)  # d theta_acc / d force
    a_x = -POLE_MASS * POLE_HALF_LENGTH * a_theta / total
    b_x = 1.0 / total - POLE_MASS * POLE_HALF_LENGTH * b_theta / total
    h = dt / substeps
    velocity_update = np.eye(4)
    velocity_update[2, 1], velocity_update[3, 1] = h * a_x, h * a_theta
    position_update = np.eye(4)
    position_update[0, 2] = position_update[1, 3] = h
    sub_a = position_update @ velocity_update
    sub_b = position_update @ np.array([[0.0], [0.0], [h * b_x], [h * b_theta]])
    a, b = np.eye(4), np.zeros((4, 1))
    for _ in range(substeps):  # the force is held over the substeps of one step
        a, b = sub_a @ a, sub_a @ b + sub_b
    q = np.diag([1.0, 10.0, 0.1, 0.1])
    r = np.array([[0.05]])
    p = q.copy()
    for _ in range(10000):
        gain = np.linalg.solve(r + b.T @ p @ b, b.T @ p @ a)
        p_next = q + a.T @ p @ (a - b @ gain)
        if np.allclose(p_next, p, rtol=1e-9, atol=1e-9):
            break
        p = p_next
    return gain[0].astype(np.float32)
