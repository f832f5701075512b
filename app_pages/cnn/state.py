"""The Convolutions page's logic for its two training tabs, free of Streamlit so it is unit-tested as
plain Python: widget values <-> config, the presets, the address, and the drawn digit's input (the
live runs are in runs.py)."""
from __future__ import annotations

import math
import re

import numpy as np
from PIL import Image

from app_pages.common import address
from app_pages.common.address import Param, flag, one_of, whole_number
from engine import ConfigError
from engine.cnn.config import HEADS, MAX_CONV_LAYERS, MAX_MLP_LAYERS, POOLS, PRESETS, CNNConfig, preset
from engine.core.registries import ACTIVATIONS, OPTIMIZERS

SAVE_NAME = "cnn"            # this page's entry in the session store (app_pages/common/saved_runs.py)

PRESET_LABELS = {"global_pool": "Global max pooling (default)", "lenet": "LeNet-style",
                 "tiny_vgg": "Tiny VGG", "all_conv": "All-convolutional (strided, no pooling)",
                 "mlp": "MLP with about as many parameters"}
DEFAULT_PRESET = "global_pool"
NO_PRESET = "custom"
CNN_PRESETS = [name for name in PRESETS if PRESETS[name].get("kind", "cnn") == "cnn"]
KIND_LABELS = {"cnn": "Convolutional (CNN)", "mlp": "Dense (MLP)"}
POOL_LABELS = {"max": "Max 2×2", "avg": "Average 2×2", "none": "None"}
HEAD_LABELS = {"flatten": "Flatten + dense", "global_max": "Global max", "global_avg": "Global average"}
LEARNING_RATES = [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0]
BATCH_SIZES = [2, 8, 16, 32, 64, 128, 256, 512]
DROPOUTS = [0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9]
STEP_LIMITS = [300, 1000, 3000, 10000, 0]   # 0: no limit
KERNELS, PADDINGS, STRIDES, DILATIONS, POOL_EVERY = [1, 2, 3, 4, 5, 6, 7], [0, 1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]
LIST_TEXT = re.compile(r"\s*[0-9]{1,4}(\s*,\s*[0-9]{1,4})*\s*,?\s*")

# widget key -> config setting (its flat name: CNNConfig.build takes these)
WIDGET_FIELDS = {"cv_kind": "kind", "cv_channels": "channels", "cv_kernel": "kernel", "cv_padding": "padding",
                 "cv_stride": "stride", "cv_dilation": "dilation", "cv_pool": "pool", "cv_pool_every": "pool_every",
                 "cv_head": "head", "cv_activation": "activation", "cv_batch_norm": "batch_norm",
                 "cv_dropout": "dropout", "cv_dense": "dense", "cv_mlp_hidden": "mlp_hidden",
                 "cv_optimizer": "optimizer", "cv_lr": "lr", "cv_batch": "batch_size", "cv_max_steps": "max_steps"}
LIST_WIDGETS = ("cv_channels", "cv_mlp_hidden")  # typed as "8, 16, 32"


def list_text(values) -> str:
    return ", ".join(str(int(v)) for v in values)


def parse_list(text: str, field_name: str, most: int) -> list[int]:
    """"8, 16, 32" -> [8, 16, 32]; ConfigError naming the field for anything else."""
    text = str(text)
    if not LIST_TEXT.fullmatch(text):
        raise ConfigError(field_name, f"type whole numbers separated by commas, e.g. 8, 16, 32 (got {text[:40]!r})")
    values = [int(v) for v in text.replace(" ", "").split(",") if v]
    if not 1 <= len(values) <= most:
        raise ConfigError(field_name, f"give 1 to {most} numbers, got {len(values)}")
    return values


def widgets_from_config(config: CNNConfig) -> dict:
    d = config.flat()
    values = {key: d[name] for key, name in WIDGET_FIELDS.items()}
    for key in LIST_WIDGETS:
        values[key] = list_text(values[key])
    return values


def preset_widgets(name: str) -> dict:
    return widgets_from_config(preset(name))


def default_widgets() -> dict:
    return {**preset_widgets(DEFAULT_PRESET), "cv_preset": DEFAULT_PRESET, "cv_digit": 0, "cv_stage": 0,
            "cv_pair_cnn": DEFAULT_PRESET, "cv_look": "test"}


def config_from_widgets(state, seed: int) -> CNNConfig:
    """The config the widgets describe; raises ConfigError naming the field if impossible."""
    d = {name: state[key] for key, name in WIDGET_FIELDS.items()}
    d["channels"] = parse_list(d["channels"], "model.channels", MAX_CONV_LAYERS)
    d["mlp_hidden"] = parse_list(d["mlp_hidden"], "model.mlp_hidden", MAX_MLP_LAYERS)
    for name in ("kernel", "padding", "stride", "dilation", "pool_every", "dense", "batch_size", "max_steps"):
        d[name] = int(d[name])
    d.update(lr=float(d["lr"]), dropout=float(d["dropout"]), batch_norm=bool(d["batch_norm"]), seed=int(seed))
    return CNNConfig.build(**d)


def matching_preset(config: CNNConfig) -> str:
    """The preset whose network `config` is (train settings aside), or NO_PRESET."""
    for name in PRESETS:
        if preset(name, config.seed).model == config.model:
            return name
    return NO_PRESET


# ---------- the address ----------
def _list_param(name: str, key: str, most: int, low: int, high: int) -> Param:
    def parse(text: str) -> str:
        try:
            values = parse_list(text, name, most)
        except ConfigError:
            values = []
        if not values or not all(low <= v <= high for v in values):
            raise ValueError(f"1 to {most} whole numbers from {low} to {high}, separated by commas")
        return list_text(values)
    return Param(name, key, parse, lambda text: str(text).replace(" ", ""))


def _dense_param() -> Param:
    return whole_number("dense", "cv_dense", 0, 512)


TRAIN_URL_PARAMS = [
    one_of("preset", "cv_preset", {**{name: name for name in PRESETS}, NO_PRESET: NO_PRESET}),
    one_of("kind", "cv_kind", list(KIND_LABELS)), _list_param("channels", "cv_channels", MAX_CONV_LAYERS, 1, 64),
    one_of("kernel", "cv_kernel", KERNELS, int), one_of("padding", "cv_padding", PADDINGS, int),
    one_of("stride", "cv_stride", STRIDES, int), one_of("dilation", "cv_dilation", DILATIONS, int),
    one_of("pool", "cv_pool", list(POOLS)), one_of("pool_every", "cv_pool_every", POOL_EVERY, int),
    one_of("head", "cv_head", list(HEADS)), one_of("activation", "cv_activation", list(ACTIVATIONS)),
    flag("batch_norm", "cv_batch_norm"), one_of("dropout", "cv_dropout", DROPOUTS, float), _dense_param(),
    _list_param("mlp", "cv_mlp_hidden", MAX_MLP_LAYERS, 1, 512),
    one_of("optimizer", "cv_optimizer", list(OPTIMIZERS)), one_of("lr", "cv_lr", LEARNING_RATES, float),
    one_of("batch", "cv_batch", BATCH_SIZES, int), one_of("steps", "cv_max_steps", STEP_LIMITS, int),
    whole_number("digit", "cv_digit", 0, 899), whole_number("stage", "cv_stage", 0, 4 * MAX_CONV_LAYERS),
    one_of("pair", "cv_pair_cnn", CNN_PRESETS)]


def address_defaults(preset_name: str | None) -> dict:
    """What the address leaves out: the page's defaults, or the chosen preset's settings."""
    base = default_widgets()
    return {**base, **preset_widgets(preset_name)} if preset_name in PRESETS else base


def widgets_from_query(query) -> tuple[dict, list[str]]:
    """Widget values from the address: a preset's settings, then the parameters given."""
    values, problems = address.widgets_from_query(TRAIN_URL_PARAMS, query)
    chosen = values.get("cv_preset")
    return ({**preset_widgets(chosen), **values} if chosen in PRESETS else values), problems


def restored_widgets(config: CNNConfig, query: dict, own_query) -> dict | None:
    """The widget values that show a restored run, or None where it must not be restored: the address
    describes another setup (a shared link wins). `own_query(values, seed)` is the address the page
    writes for these values; an empty address or that one (a reload) restores."""
    values = {**widgets_from_config(config), "cv_preset": matching_preset(config)}
    if config_from_widgets(values, config.seed) != config:
        return None
    own = own_query(values, config.seed)
    keep = {k: v for k, v in dict(query).items() if k not in ("tab", "digit", "stage", "pair")
            and not k.startswith("op.")}  # the other tabs' settings and the view's choices do not name a run
    mine = {k: v for k, v in own.items() if k not in ("tab", "digit", "stage", "pair") and not k.startswith("op.")}
    return values if not keep or keep == mine else None


def fmt_percent(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.1%}"


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    if not math.isfinite(x):
        return "NaN"
    return f"{x:.{digits}g}" if x == 0 or 1e-3 <= abs(x) < 1e5 else f"{x:.1e}"


def drawn_input(grid) -> np.ndarray | None:
    """The pad's 8×8 grid as the network's input: the ink's bounding box scaled and centred the way
    scikit-learn's digits are (full height, about 6 columns wide, in the middle), its darkest cell
    at full ink; None when nothing is drawn."""
    if grid is None:
        return None
    image = np.clip(np.nan_to_num(np.asarray(grid, dtype=np.float64).reshape(8, 8)), 0.0, 1.0)
    rows, cols = np.flatnonzero(image.max(axis=1) > 0.05), np.flatnonzero(image.max(axis=0) > 0.05)
    if not len(rows):
        return None
    ink = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = ink.shape
    # Every one of the 1,797 digits is 8 pixels tall and at most 6 or 7 wide (6 for most): stretch to
    # the full height, keep the shape, and squeeze a wide drawing to 6 columns.
    size = (int(np.clip(round(w * 8 / h), 1, 6)), 8)
    ink = np.asarray(Image.fromarray(ink.astype(np.float32), mode="F").resize(size, Image.BILINEAR))
    out = np.zeros((8, 8), dtype=np.float32)
    top, left = (8 - size[1]) // 2, (8 - size[0]) // 2
    out[top:top + size[1], left:left + size[0]] = ink
    peak = out.max()
    return (np.clip(out / peak, 0.0, 1.0) if peak > 0 else out).reshape(64)
