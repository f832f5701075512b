"""The "One kernel" tab's logic, free of Streamlit so it is unit-tested as plain Python: its settings
and their address, the digit and kernel they pick, and every sentence and formula the tab writes
with the user's numbers. All the arithmetic comes from engine/cnn/ops.py.

The digit's pixels are shown as the whole numbers 0–16 the data set was drawn in (rather than the
[0, 1] floats the networks read): "16·1 + 3·(−1)" reads at a glance, "1.0·1 + 0.1875·(−1)" does not."""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from app_pages.common.address import Param, one_of, whole_number
from engine.cnn import ops
from engine.core.digits import load_digits_split

DIGIT_SPLIT_SEED = 0  # the tab's digits do not move with the sidebar's seed: a link shows the same digit
EXAMPLES = 10         # "the first 3" .. "the tenth 3": every digit has over 30 test images
ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]
CUSTOM = {3: "custom 3×3", 5: "custom 5×5"}
KERNEL_CHOICES = [*ops.PRESET_KERNELS, *CUSTOM.values()]
KERNEL_WORDS = {**{name.replace(" ", "-"): name for name in ops.PRESET_KERNELS}, "custom3": CUSTOM[3],
                "custom5": CUSTOM[5]}  # address text -> choice: no spaces in a link
CUSTOM_LIMIT = 100    # largest |weight| a custom kernel takes: its products stay readable
PADDINGS, STRIDES, DILATIONS = (0, 2), (1, 3), (1, 2)
MAX_POSITIONS = ops.output_size(8, 3, PADDINGS[1]) ** 2  # the most output cells any setting makes
LAYER_SOURCES = {"random": "random (seeded)", "presets": "the preset kernels"}
LAYER_SEEDS = (0, 9999)
TR_INPUTS = {"flat": "a flat 3×3 map of ones", "digit": "the digit shrunk to 4×4 (2×2 average pooling)"}
TR_KERNELS = {"ones2": "2×2 of ones", "ones3": "3×3 of ones", "ones4": "4×4 of ones", "above": "the kernel above"}

# Widget key -> default. Padding 1 keeps the 8×8 size, as most CNNs do; the custom kernels start as
# something worth seeing (a top-edge finder, a 5×5 Laplacian of Gaussian), the user's to change.
OP_DEFAULTS = {
    "cv_op_digit": 3, "cv_op_example": 1, "cv_op_kernel": "sobel x",
    "cv_op_custom3": "1,1,1;0,0,0;-1,-1,-1",
    "cv_op_custom5": "0,0,-1,0,0;0,-1,-2,-1,0;-1,-2,16,-2,-1;0,-1,-2,-1,0;0,0,-1,0,0",
    "cv_op_padding": 1, "cv_op_stride": 1, "cv_op_dilation": 1, "cv_op_position": 0,
    "cv_op_c_in": 1, "cv_op_c_out": 8, "cv_op_layer_source": "presets", "cv_op_layer_seed": 0,
    "cv_op_tr_input": "flat", "cv_op_tr_kernel": "ones3", "cv_op_tr_stride": 2,
}

_NUMBER = re.compile(r"-?[0-9]{1,3}(\.[0-9]{1,3})?")  # ASCII digits only: no "²", "nan", "1e999"


def kernel_from_text(text: str, size: int) -> np.ndarray:
    """A size×size kernel from "1,0,-1;2,0,-2;1,0,-1" (rows split by ";", numbers by ",")."""
    rows = [row.split(",") for row in str(text).split(";")]
    if len(rows) != size or any(len(row) != size for row in rows):
        raise ValueError(f"{size} rows of {size} numbers, rows split by ';' and numbers by ','")
    cells = [cell.strip() for row in rows for cell in row]
    if not all(_NUMBER.fullmatch(cell) and abs(float(cell)) <= CUSTOM_LIMIT for cell in cells):
        raise ValueError(f"numbers from -{CUSTOM_LIMIT} to {CUSTOM_LIMIT} with at most 3 decimals")
    return np.array(cells, dtype=np.float64).reshape(size, size)


def kernel_to_text(kernel: np.ndarray) -> str:
    return ";".join(",".join(plain_number(v, 3, minus="-") for v in row) for row in np.asarray(kernel))


def clean_weight(value) -> float:
    """A number typed into the kernel's grid, made one the address can carry: 0 for an empty or
    unreadable cell, clipped to ±CUSTOM_LIMIT, 3 decimals."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    if not np.isfinite(number):
        return 0.0
    return round(float(np.clip(number, -CUSTOM_LIMIT, CUSTOM_LIMIT)), 3) + 0.0


def apply_edits(text: str, size: int, edited_rows: dict) -> str:
    """The custom kernel's text after st.data_editor's edits ({row: {column: value}})."""
    kernel = kernel_from_text(text, size)
    for row, cells in (edited_rows or {}).items():
        for column, value in (cells or {}).items():
            r, c = int(row), int(str(column)) - 1  # the editor's columns are named "1".."size"
            if 0 <= r < size and 0 <= c < size:
                kernel[r, c] = clean_weight(value)
    return kernel_to_text(kernel)


def _kernel_param(name: str, key: str, size: int) -> Param:
    return Param(name, key, lambda text: kernel_to_text(kernel_from_text(text, size)))


OP_URL_PARAMS = [
    whole_number("op.digit", "cv_op_digit", 0, 9), whole_number("op.example", "cv_op_example", 1, EXAMPLES),
    one_of("op.kernel", "cv_op_kernel", KERNEL_WORDS),
    _kernel_param("op.custom3", "cv_op_custom3", 3), _kernel_param("op.custom5", "cv_op_custom5", 5),
    whole_number("op.padding", "cv_op_padding", *PADDINGS), whole_number("op.stride", "cv_op_stride", *STRIDES),
    whole_number("op.dilation", "cv_op_dilation", *DILATIONS),
    whole_number("op.position", "cv_op_position", 0, MAX_POSITIONS - 1),
    whole_number("op.c_in", "cv_op_c_in", 1, 3), whole_number("op.c_out", "cv_op_c_out", 1, 8),
    one_of("op.layer", "cv_op_layer_source", list(LAYER_SOURCES)),
    whole_number("op.layer_seed", "cv_op_layer_seed", *LAYER_SEEDS),
    one_of("op.tr_input", "cv_op_tr_input", list(TR_INPUTS)),
    one_of("op.tr_kernel", "cv_op_tr_kernel", list(TR_KERNELS)),
    whole_number("op.tr_stride", "cv_op_tr_stride", 1, 2),
]


def corrections(values) -> dict:
    """Defaults for the settings in `values` that no widget could show (a value the address could
    not carry: a wrong type, out of range): the tab draws what it can instead of raising."""
    fixed = {}
    for p in OP_URL_PARAMS:
        value = values.get(p.key, OP_DEFAULTS[p.key])
        try:
            ok = type(value) is type(OP_DEFAULTS[p.key]) and p.parse(p.format(value)) == value
        except (ValueError, TypeError, KeyError, AttributeError):
            ok = False
        if not ok:
            fixed[p.key] = OP_DEFAULTS[p.key]
    return fixed


# ---------- numbers as the tab writes them ----------

def plain_number(value: float, decimals: int = 2, minus: str = "−") -> str:
    """28, 7.11, −1.5: no trailing zeros, a true minus sign, never "−0"."""
    text = f"{round(float(value), decimals):.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:.0f}"
    text = "0" if text in ("-0", "") else text
    return text.replace("-", minus)


def weight_text(weight: float) -> str:
    """A kernel weight in a sum: negatives in brackets, "(−1)"; one that 3 decimals cannot write
    exactly but a small fraction can (the blurs' 1/9, 1/16) as that fraction: "(1/9)"."""
    fraction = Fraction(float(weight)).limit_denominator(16)
    if round(weight, 3) != weight and abs(float(fraction) - weight) < 1e-12:
        text = f"{fraction.numerator}/{fraction.denominator}".replace("-", "−")
        return f"({text})"
    text = plain_number(weight, 3)
    return f"({text})" if weight < 0 else text


def cell_arithmetic(cell: ops.ConvCell) -> str:
    """0·(−1) + 3·0 + … + 16·1 = 28: every product of the cell, in reading order, and the total."""
    terms = [f"{plain_number(x, 3)}·{weight_text(w)}" for x, w in zip(cell.inputs.ravel(), cell.weights.ravel())]
    return " + ".join(terms) + f" = {plain_number(cell.total)}"


def size_formula(n: int, k: int, padding: int, stride: int, dilation: int) -> str:
    """out = ⌊(8 + 2·1 − 1·(3−1) − 1)/1⌋ + 1 = 8, with the result from ops.output_size."""
    out = ops.output_size(n, k, padding, stride, dilation)
    return f"out = ⌊({n} + 2·{padding} − {dilation}·({k}−1) − 1)/{stride}⌋ + 1 = {out}"


# ---------- the digit, the kernel, the output ----------

@lru_cache(maxsize=1)
def _test_digits() -> tuple[np.ndarray, np.ndarray]:
    _, _, x, y = load_digits_split(DIGIT_SPLIT_SEED, 0.2)
    pixels = np.rint(x.reshape(-1, 8, 8) * 16).astype(np.float64)  # back to the 0..16 the digits were drawn in
    pixels.setflags(write=False)
    return pixels, y


def test_digit(digit: int, example: int) -> tuple[np.ndarray, int]:
    """The `example`-th (from 1) test image of `digit`, (8, 8) in 0..16, and its index in the test set."""
    pixels, labels = _test_digits()
    index = int(np.flatnonzero(labels == digit)[example - 1])
    return pixels[index], index


def example_label(example: int) -> str:
    return f"the {ORDINALS[example - 1]}"


def chosen_kernel(values) -> np.ndarray:
    """The kernel the settings name: a preset's weights or the custom grid."""
    choice = values["cv_op_kernel"]
    for size, name in CUSTOM.items():
        if choice == name:
            return kernel_from_text(values[f"cv_op_custom{size}"], size)
    return np.array(ops.PRESET_KERNELS[choice].weights)


def kernel_description(choice: str) -> str:
    if choice in ops.PRESET_KERNELS:
        return ops.PRESET_KERNELS[choice].description
    return f"Your own kernel: type any numbers from −{CUSTOM_LIMIT} to {CUSTOM_LIMIT} into its cells."


@dataclass(frozen=True)
class OperationSetup:
    """One kernel over one digit, every output cell computed (conv2d), ready to be stepped through."""
    image: np.ndarray         # (8, 8) pixels 0..16
    kernel: np.ndarray        # (k, k)
    padding: int
    stride: int
    dilation: int
    padded: np.ndarray        # (8 + 2p, 8 + 2p) the image with its zero border
    border: np.ndarray        # (8 + 2p, 8 + 2p) bool, True on the padding
    output: np.ndarray        # (H', W')
    positions: list           # [(i, j)] in the order the kernel visits them
    formula: str


def operation_setup(values) -> OperationSetup:
    """Everything the stepping view draws but the current cell; ValueError (the engine's sentence)
    when the kernel does not fit the padded digit."""
    image, _ = test_digit(values["cv_op_digit"], values["cv_op_example"])
    kernel = chosen_kernel(values)
    p, s, d = values["cv_op_padding"], values["cv_op_stride"], values["cv_op_dilation"]
    output = ops.conv2d(image, kernel, p, s, d)
    border = np.pad(np.zeros(image.shape, dtype=bool), p, constant_values=True)
    return OperationSetup(image=image, kernel=kernel, padding=p, stride=s, dilation=d,
                          padded=np.pad(image, p), border=border, output=output,
                          positions=ops.output_positions(image.shape, kernel.shape, p, s, d),
                          formula=size_formula(image.shape[0], kernel.shape[0], p, s, d))


def clamp_position(position, count: int) -> int:
    try:
        return min(max(int(position), 0), count - 1)
    except (TypeError, ValueError, OverflowError):
        return 0


def play_step(position: int, count: int) -> tuple[int, bool]:
    """One tick of Play: the next position, and whether to go on playing (not past the last cell)."""
    following = clamp_position(position + 1, count)
    return following, following < count - 1


def cell_of(setup: OperationSetup, position: int) -> ops.ConvCell:
    i, j = setup.positions[clamp_position(position, len(setup.positions))]
    return ops.conv_cell(setup.image, setup.kernel, setup.padding, setup.stride, setup.dilation, i, j)


def output_so_far(setup: OperationSetup, position: int) -> np.ndarray:
    """The output map with the cells after `position` not yet computed (NaN)."""
    shown = np.full(setup.output.shape, np.nan)
    for i, j in setup.positions[:clamp_position(position, len(setup.positions)) + 1]:
        shown[i, j] = setup.output[i, j]
    return shown


def padding_note(cell: ops.ConvCell) -> str:
    n = int(cell.in_padding.sum())
    return f" {n} of the {cell.in_padding.size} inputs lie on the padding and count 0." if n else ""


# ---------- a layer: many kernels ----------

def layer_inputs(image: np.ndarray, c_in: int) -> np.ndarray:
    """(C_in, 8, 8): the digit and, for more maps, its vertical and horizontal edge maps (sobel x, y,
    padding 1), standing for the maps a first layer would hand on."""
    maps = [image] + [ops.conv2d(image, ops.PRESET_KERNELS[name].weights, 1) for name in ("sobel x", "sobel y")]
    return np.stack(maps[:c_in])


def layer_kernels(c_in: int, c_out: int, source: str, seed: int) -> np.ndarray:
    """(C_out, C_in, 3, 3): seeded random weights (He-like scale), or the presets taken in turn."""
    if source == "random":
        rng = np.random.default_rng(seed)
        return np.round(rng.normal(0.0, np.sqrt(2.0 / (9 * c_in)), (c_out, c_in, 3, 3)), 2)
    presets = [p.weights for p in ops.PRESET_KERNELS.values()]
    return np.stack([np.stack([presets[(o * c_in + c) % len(presets)] for c in range(c_in)]) for o in range(c_out)])


def layer_sentence(c_in: int, c_out: int, k: int, counts: ops.LayerParams, side: int = 8) -> str:
    """The conv layer's parameters against a dense layer between the same sizes, with the numbers."""
    maps = lambda n: f"{n} map{'s' if n != 1 else ''}"  # noqa: E731 (a one-line plural)
    _, rows, cols = counts.output_shape
    times = f"{counts.ratio:,.0f}" if counts.ratio >= 10 else f"{counts.ratio:.1f}"
    return (f"A conv layer of **{c_out * c_in} {k}×{k} kernels** from {maps(c_in)} to {maps(c_out)}: "
            f"**{counts.conv:,} parameters** ({c_out * c_in * k * k:,} weights and {c_out} biases, the same at "
            f"every position); a dense layer from {c_in * side * side:,} to {c_out * rows * cols:,} numbers "
            f"({maps(c_out)} of {rows}×{cols}): **{counts.dense:,}** — **{times}× more**.")


# ---------- transposed convolution ----------

def transposed_input(kind: str, image: np.ndarray) -> np.ndarray:
    return ops.pool2d(image, 2, mode="avg") if kind == "digit" else np.ones((3, 3))


def transposed_kernel(kind: str, kernel: np.ndarray) -> np.ndarray:
    return np.array(kernel) if kind == "above" else np.ones((int(kind[-1]),) * 2)


def checkerboard_sentence(k: int, stride: int, counts: np.ndarray) -> str:
    """Why the output is even or uneven: how many copies of the kernel reach each cell."""
    levels = ", ".join(str(c) for c in np.unique(counts))
    if k % stride:
        return (f"With stride {stride} the copies of a {k}×{k} kernel overlap unevenly: cells get {levels} of them "
                "(right), so even a flat input comes out brighter where more copies pile up — the checkerboard "
                "seen in many decoders' images. A kernel size the stride divides (4×4 with stride 2) overlaps "
                "evenly inside.")
    if counts.min() == counts.max():
        return f"Every cell gets exactly {counts.min()} copy of the kernel: the copies tile the output, no overlap."
    inner = int(counts[counts.shape[0] // 2, counts.shape[1] // 2])
    return (f"Stride {stride} divides the kernel size {k}: every inner cell gets the same {inner} "
            f"cop{'ies' if inner != 1 else 'y'} of the kernel, so a flat input stays flat inside; only the border, "
            f"which fewer copies reach ({levels} in all), is darker.")
