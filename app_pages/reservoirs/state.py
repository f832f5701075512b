"""The Reservoirs page's logic, free of Streamlit so it is unit-tested as plain Python: the widgets'
choices, widget values <-> the three configs, the address, and which saved run a new session restores."""
from __future__ import annotations

import math

from app_pages.common import address
from app_pages.common.address import SEED, one_of, whole_number
from engine.reservoirs.config import (ELM_ACTIVATIONS, ELM_DATASETS, ENCODINGS, SERIES_SIGNALS, ELMConfig, ESNConfig,
                                      LSMConfig)
from engine.reservoirs.lsm import twin_config

TABS = {"elm": "① Extreme learning machine", "esn": "② Echo state network", "lsm": "③ Liquid state machine"}
# Each tab's run has its own entry in the session store (app_pages/common/saved_runs.py), and a name in a sentence.
SAVE_NAMES = {"elm": "reservoirs_elm", "esn": "reservoirs_esn", "lsm": "reservoirs_lsm"}
RUN_NAMES = {"elm": "extreme learning machine and its MLP", "esn": "echo state network",
             "lsm": "liquid state machine and its echo state network"}
DATASET_LABELS = {"circle": "Circle", "xor": "XOR", "gauss": "Two Gaussians", "spiral": "Spiral", "moons": "Moons",
                  "blobs": "Three blobs"}
SIGNAL_LABELS = {"mackey_glass": "Mackey–Glass (τ = 17)", "sine": "Two sines"}
ENCODING_LABELS = {"poisson": "Poisson (random, rate ∝ ink)", "threshold": "Threshold (ink ≥ ½ fires)"}

NOISES = [0.0, 0.1, 0.2, 0.3, 0.5]
WIDTHS = [2, 5, 10, 20, 50, 100, 200, 500, 1000]
INPUT_SCALES = [0.3, 1.0, 3.0, 10.0]
RIDGES = [0.0, 1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1.0, 100.0]
SIZES = [20, 50, 100, 200, 500]
RADII = [0.1, 0.5, 0.8, 0.9, 0.95, 1.0, 1.1, 1.5, 2.0, 3.0]
INPUT_SCALINGS = [0.1, 0.5, 1.0, 2.0]
LEAKS = [0.1, 0.3, 0.5, 1.0]
LIQUID_SIZES = [50, 100, 200, 300, 500]
STEPS_PER_ROW = [2, 5, 10, 20]
REFRACTORY = [0.0, 2.0, 5.0]
# A page's chunks are smaller than the CLI's defaults, so that a frame stays short and the curves get
# more points: 100 time steps of the series, 100 digits.
ESN_SAMPLES_PER_STEP = 100
LSM_SAMPLES_PER_STEP = 100

# widget key -> (section, field)
ELM_FIELDS = {"rs_elm_data": ("data", "name"), "rs_elm_noise": ("data", "noise"), "rs_elm_hidden": ("model", "hidden"),
              "rs_elm_activation": ("model", "activation"), "rs_elm_scale": ("model", "input_scale"),
              "rs_elm_ridge": ("model", "ridge")}
ESN_FIELDS = {"rs_esn_signal": ("data", "signal"), "rs_esn_size": ("model", "size"),
              "rs_esn_radius": ("model", "spectral_radius"), "rs_esn_input": ("model", "input_scaling"),
              "rs_esn_leak": ("model", "leak_rate"), "rs_esn_ridge": ("model", "ridge")}
LSM_FIELDS = {"rs_lsm_encoding": ("data", "encoding"), "rs_lsm_steps": ("data", "steps_per_row"),
              "rs_lsm_size": ("model", "size"), "rs_lsm_refractory": ("model", "refractory_ms")}


def _widgets(config, fields: dict) -> dict:
    d = config.to_dict()
    return {key: d[section][name] for key, (section, name) in fields.items()}


def default_widgets() -> dict:
    esn = ESNConfig.from_dict({"train": {"samples_per_step": ESN_SAMPLES_PER_STEP}})
    return {"rs_tab": TABS["elm"], **_widgets(ELMConfig(), ELM_FIELDS), **_widgets(esn, ESN_FIELDS),
            **_widgets(LSMConfig(), LSM_FIELDS), "rs_lsm_digit": 0}


def _config(cls, state, fields: dict, seed: int, train: dict | None = None):
    d: dict = {"data": {}, "model": {}, "train": {"seed": int(seed), **(train or {})}}
    for key, (section, name) in fields.items():
        d[section][name] = state[key]
    return cls.from_dict(d)


def elm_config(state, seed: int) -> ELMConfig:
    """The ELM the widgets describe; ConfigError naming the field if impossible."""
    return _config(ELMConfig, state, ELM_FIELDS, seed)


def esn_config(state, seed: int) -> ESNConfig:
    return _config(ESNConfig, state, ESN_FIELDS, seed, {"samples_per_step": ESN_SAMPLES_PER_STEP})


def lsm_config(state, seed: int) -> LSMConfig:
    return _config(LSMConfig, state, LSM_FIELDS, seed, {"samples_per_step": LSM_SAMPLES_PER_STEP})


def esn_twin_config(config: LSMConfig) -> ESNConfig:
    """The echo state network on the liquid's task: the same digits' rows, as analog inputs, the same split."""
    return twin_config(config)


FIELDS = {"elm": ELM_FIELDS, "esn": ESN_FIELDS, "lsm": LSM_FIELDS}
CONFIGS = {"elm": elm_config, "esn": esn_config, "lsm": lsm_config}
CONFIG_CLASSES = {"elm": ELMConfig, "esn": ESNConfig, "lsm": LSMConfig}


def widgets_of(tab: str, config) -> dict:
    """The widget values of a tab ("elm", "esn", "lsm") that describe `config`."""
    return _widgets(config, FIELDS[tab])


def widgets_for_json(tab: str, text: str) -> dict:
    """The widget values (and the seed) of a tab's config given as JSON: "Keep the trained one" puts them back."""
    config = CONFIG_CLASSES[tab].from_json(text)
    return {**widgets_of(tab, config), "global_seed": config.seed}


def changed_settings(running, wanted) -> list[str]:
    """The settings ("model.size", "train.seed") in which two configs of one tab differ."""
    old = running.flat()
    return [name for name, value in wanted.flat().items() if old.get(name) != value]


URL_PARAMS = [
    one_of("tab", "rs_tab", {name: label for name, label in TABS.items()}),
    one_of("data", "rs_elm_data", list(ELM_DATASETS)), one_of("noise", "rs_elm_noise", NOISES, float),
    one_of("hidden", "rs_elm_hidden", WIDTHS, int), one_of("activation", "rs_elm_activation", list(ELM_ACTIVATIONS)),
    one_of("scale", "rs_elm_scale", INPUT_SCALES, float), one_of("ridge", "rs_elm_ridge", RIDGES, float),
    one_of("signal", "rs_esn_signal", list(SERIES_SIGNALS)), one_of("size", "rs_esn_size", SIZES, int),
    one_of("radius", "rs_esn_radius", RADII, float), one_of("input", "rs_esn_input", INPUT_SCALINGS, float),
    one_of("leak", "rs_esn_leak", LEAKS, float), one_of("esn_ridge", "rs_esn_ridge", RIDGES, float),
    one_of("encoding", "rs_lsm_encoding", list(ENCODINGS)), one_of("row_steps", "rs_lsm_steps", STEPS_PER_ROW, int),
    one_of("neurons", "rs_lsm_size", LIQUID_SIZES, int), one_of("refractory", "rs_lsm_refractory", REFRACTORY, float),
    whole_number("digit", "rs_lsm_digit", 0, 899),
]


def page_query(values, seed: int) -> dict[str, str]:
    """The address for these widget values: what differs from the defaults, and the seed."""
    return address.widgets_to_query(URL_PARAMS, values, default_widgets(), seed)


def page_from_query(query) -> tuple[dict, list[str]]:
    return address.widgets_from_query(URL_PARAMS, query)


def _run_part(tab: str, query: dict) -> dict:
    """The parameters of an address that describe a tab's run: its settings and the seed."""
    names = {p.name for p in URL_PARAMS if p.key in FIELDS[tab]} | {SEED}
    return {name: text for name, text in query.items() if name in names}


def restored_widgets(tab: str, config, query: dict) -> dict | None:
    """The widget values that show a tab's restored run, or None where it must not be restored: the
    address (`query`, name -> text) describes another run of this tab or another seed — a shared link
    wins over the saved run — or the widgets cannot show it. An address with nothing about the tab's run
    (the navigation menu) or with what the page wrote for this very run (a reload) restores it; the other
    tabs' settings in the address apply either way."""
    values = widgets_of(tab, config)
    own = page_query({**default_widgets(), **values}, config.seed)
    if CONFIGS[tab](values, config.seed) != config or page_from_query(own)[1]:
        return None  # settings that no widget offers (a run this page did not make)
    asked = _run_part(tab, query)
    return None if asked and asked != _run_part(tab, own) else values


def restore_order(query: dict) -> list[str]:
    """The tabs whose saved runs a new session tries, the tab the address opens first: when two were
    trained with different seeds, the sidebar's one seed can show only the first."""
    first = query.get("tab")
    return sorted(TABS, key=lambda tab: tab != first)


def fmt_percent(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.1%}"


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "NaN"
    return f"{x:.{digits}g}" if x == 0 or 1e-3 <= abs(x) < 1e5 else f"{x:.1e}"
