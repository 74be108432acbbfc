"""Genesis-style recording: rec.start_recording(data_func, hz=...) sampled at each step by dt.

In Genesis, `scene.start_recording(data_func, rec_options)` and
`scene.stop_recording(save_to=...)`; here the same calls go on simrec's Recorder, and
`rec.step()` follows `scene.step()`. The "scene" below is a falling, bouncing ball.

python examples/genesis_data_func.py       # writes genesis.mcap + genesis.npz, then says what next
"""

from __future__ import annotations

import numpy as np

from simrec_node import Recorder

OUTPUT = "genesis.mcap"
DT = 0.01  # scene.dt


class Ball:
    def __init__(self) -> None:
        self.pos = np.array([0.0, 0.0, 1.0])
        self.vel = np.array([0.5, 0.0, 0.0])

    def step(self) -> None:
        self.vel[2] -= 9.81 * DT
        self.pos += self.vel * DT
        if self.pos[2] < 0:
            self.pos[2], self.vel[2] = -self.pos[2], -0.8 * self.vel[2]

    def get_pos(self) -> np.ndarray:
        return self.pos.copy()

    def get_vel(self) -> np.ndarray:
        return self.vel.copy()


def main() -> None:
    ball = Ball()

    def get_ball_state() -> dict[str, np.ndarray]:
        return {"position": ball.get_pos(), "velocity": ball.get_vel()}

    rec = Recorder(OUTPUT, dt=DT, overwrite=True)  # dt: step() needs no sim_time
    rec.start_recording(get_ball_state, hz=50)  # -> topic /get_ball_state, every 2nd step
    rec.start_recording(lambda: float(ball.get_pos()[2]), topic="ball/height", hz=100)
    for _ in range(300):
        ball.step()  # scene.step()
        rec.step()
    files = rec.stop_recording(save_to="genesis.npz", overwrite=True)  # short keys
    print("wrote " + ", ".join(str(f) for f in files) + "; next:")
    print(f"  simrec info {OUTPUT}")
    print(
        "  python -c \"import numpy as np; print(np.load('genesis.npz')['get_ball_state/position'].shape)\""
    )
    print(f"  simrec convert {OUTPUT} -o genesis_full.npz --overwrite")


if __name__ == "__main__":
    main()
