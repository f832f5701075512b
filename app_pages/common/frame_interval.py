"""The frame interval of a live view, shared by the pages that adapt it (Playground,
Autoencoders). The browser asks for frames on a fixed timer, and a request that arrives while
a frame is still being drawn interrupts it: on a busy machine the view would freeze while
training went on. So a page asks for frames less often when they take longer, and draws its
live view again with a new interval only when the change is large enough to matter."""
from __future__ import annotations

import math


def rounded_interval(wanted: float, tick: float, most: float) -> float:
    """`wanted` seconds kept within [tick, most], rounded up to steps of 0.05 s."""
    return math.ceil(min(most, max(tick, wanted)) * 20 - 1e-9) / 20


def interval_is_stale(wanted: float, interval: float, tick: float) -> bool:
    """The frames now want so much more (or less) time than `interval` that the live view
    should be drawn again with `wanted`."""
    return wanted > 1.25 * interval or (interval > tick and wanted < 0.75 * interval)
