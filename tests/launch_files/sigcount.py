"""Counts SIGINTs: prints ``ready``, then ``total N`` half a second after the first one."""

import signal
import time

count = 0


def on_sigint(*_: object) -> None:
    global count
    count += 1


signal.signal(signal.SIGINT, on_sigint)
print("ready", flush=True)
while count == 0:
    time.sleep(0.02)
time.sleep(0.5)
print(f"total {count}", flush=True)
