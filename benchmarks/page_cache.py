"""Start each timed run on a settled page cache (benchmarks only).

On the development VM, writes beyond ~140 MB of dirty page cache are throttled to the disk's
~350-570 MB/s, so the dirty pages of one run would slow the next: earlier figures scattered
and leaned on the run order because of it (in-process loop: +25-30 % unsettled against
+7-12 % settled). ``settle`` removes the previous run's outputs and flushes, outside the timing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


def settle(remove: Iterable[Path] = ()) -> None:
    """Delete ``remove`` (the last run's outputs; missing ones are fine), then flush dirty pages."""
    for path in remove:
        path.unlink(missing_ok=True)
    os.sync()
