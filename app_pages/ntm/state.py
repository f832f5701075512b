"""The Neural Turing machine page's logic, free of Streamlit so it is unit-tested as plain Python: widget
values <-> config, the address, and the numbers the page writes (the live run is in runs.py)."""
from __future__ import annotations

import math
import re

from app_pages.common import address
from app_pages.common.address import Param, one_of
from engine.ntm.config import MAX_LENGTH, NTMConfig

SAVE_NAME = "ntm"             # this page's entry in the session store (app_pages/common/saved_runs.py)

BITS = [2, 3, 4, 5, 6, 8]
LENGTHS = list(range(1, 17))  # the range slider's stops (the engine takes up to MAX_LENGTH from a config file)
SLOTS = [8, 16, 24, 32, 48, 64, 128]
WIDTHS = [4, 6, 8, 12, 16, 20]
CONTROLLERS = [8, 16, 32, 64, 100, 128]
LEARNING_RATES = [0.0003, 0.001, 0.003, 0.005, 0.01, 0.03]
BATCH_SIZES = [8, 16, 32, 64]
STEP_LIMITS = [1000, 3000, 10000, 0]   # 0: no limit
LONGER_TIMES = 3              # "try longer" goes up to this many times the longest training length

# widget key -> config setting (its flat name: NTMConfig.build takes these); nt_lengths is (min, max)
WIDGET_FIELDS = {"nt_bits": "bits", "nt_slots": "memory_slots", "nt_width": "memory_width",
                 "nt_controller": "controller", "nt_lr": "lr", "nt_batch": "batch_size", "nt_max_steps": "max_steps"}
LENGTH_TEXT = re.compile(r"([0-9]{1,2})-([0-9]{1,2})")


def widgets_from_config(config: NTMConfig) -> dict:
    d = config.flat()
    return {**{key: d[name] for key, name in WIDGET_FIELDS.items()},
            "nt_lengths": (d["min_length"], d["max_length"])}


def default_widgets() -> dict:
    return {**widgets_from_config(NTMConfig()), "nt_example": 0}


def config_from_widgets(state, seed: int) -> NTMConfig:
    """The config the widgets describe; raises ConfigError naming the field if impossible."""
    d = {name: state[key] for key, name in WIDGET_FIELDS.items()}
    low, high = state["nt_lengths"]
    for name in ("bits", "memory_slots", "memory_width", "controller", "batch_size", "max_steps"):
        d[name] = int(d[name])
    d.update(lr=float(d["lr"]), min_length=int(low), max_length=int(high), seed=int(seed))
    return NTMConfig.build(**d)


def example_lengths(config: NTMConfig) -> list[int]:
    """The lengths the example can be shown at: 0 stands for the longest trained one, then 1..3 × that."""
    return [0, *range(1, LONGER_TIMES * config.data.max_length + 1)]


# ---------- the address ----------
def _lengths_param() -> Param:
    def parse(text: str) -> tuple[int, int]:
        match = LENGTH_TEXT.fullmatch(text)
        low, high = (int(match[1]), int(match[2])) if match else (0, 0)
        if not (match and LENGTHS[0] <= low <= high <= LENGTHS[-1]):
            raise ValueError(f"two lengths from {LENGTHS[0]} to {LENGTHS[-1]} as low-high, e.g. 1-8")
        return low, high
    return Param("lengths", "nt_lengths", parse, lambda v: f"{int(v[0])}-{int(v[1])}")


URL_PARAMS = [
    one_of("bits", "nt_bits", BITS, int), _lengths_param(), one_of("slots", "nt_slots", SLOTS, int),
    one_of("width", "nt_width", WIDTHS, int), one_of("controller", "nt_controller", CONTROLLERS, int),
    one_of("lr", "nt_lr", LEARNING_RATES, float), one_of("batch", "nt_batch", BATCH_SIZES, int),
    one_of("steps", "nt_max_steps", STEP_LIMITS, int),
    address.whole_number("example", "nt_example", 0, LONGER_TIMES * LENGTHS[-1])]
RUN_PARAMS = [p.name for p in URL_PARAMS if p.key in WIDGET_FIELDS or p.key == "nt_lengths"]
assert LENGTHS[-1] <= MAX_LENGTH


def page_query(values, seed: int) -> dict[str, str]:
    """The address for these widget values: what differs from the defaults, and the seed."""
    return address.widgets_to_query(URL_PARAMS, values, default_widgets(), seed)


def widgets_from_query(query) -> tuple[dict, list[str]]:
    return address.widgets_from_query(URL_PARAMS, query)


def restored_widgets(config: NTMConfig, query: dict) -> dict | None:
    """The widget values that show a restored run, or None where it must not be restored: its settings
    are not the page's widgets' (a config file's), or the address describes another run (a shared link
    wins). An address with no run settings, or with this run's (a reload), restores."""
    values = widgets_from_config(config)
    try:
        if config_from_widgets(values, config.seed) != config:
            return None
    except Exception:  # noqa: BLE001 - a value no widget offers: not this page's run
        return None
    own = page_query(values, config.seed)
    keep = {k: v for k, v in dict(query).items() if k in RUN_PARAMS or k == address.SEED}
    mine = {k: v for k, v in own.items() if k in RUN_PARAMS or k == address.SEED}
    asked = {k for k in keep if k != address.SEED}
    return values if not asked or keep == mine else None


def fmt_percent(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.1%}"


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "NaN"
    return f"{x:.{digits}g}" if x == 0 or 1e-3 <= abs(x) < 1e5 else f"{x:.1e}"
