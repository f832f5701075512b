"""The operations a convolutional network is built from, in NumPy, small enough to show one
output cell at a time (as CNN Explainer does): a kernel slides over the input, and each output
cell is the sum of the element-wise products of the kernel with the input cells it covers.

Conventions are PyTorch's, so every result here equals torch.nn.functional's: cross-correlation
(the kernel is not flipped), zero padding on all four sides, and along each axis

    output = ⌊(n + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1.

The transposed convolution (the "deconvolution" of a decoder) runs the other way: each input
cell adds a scaled copy of the kernel into a larger output, stride cells apart. Where copies
overlap unevenly (a stride that does not divide the kernel size) the output shows a
checkerboard; overlap_counts measures it. Arrays are float64 NumPy arrays, images (H, W) with
row 0 at the top, layers (C, H, W).
"""
from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _whole(value, name: str, minimum: int) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {number}")
    return number


def output_size(n: int, kernel: int, padding: int = 0, stride: int = 1, dilation: int = 1) -> int:
    """Cells along one axis of the output of a kernel of `kernel` cells sliding over `n` cells."""
    n, kernel = _whole(n, "input size", 1), _whole(kernel, "kernel size", 1)
    padding, stride = _whole(padding, "padding", 0), _whole(stride, "stride", 1)
    dilation = _whole(dilation, "dilation", 1)
    span = dilation * (kernel - 1) + 1  # input cells one placement of the kernel covers
    if span > n + 2 * padding:
        spread = f" ({span} cells wide with dilation {dilation})" if dilation > 1 else ""
        raise ValueError(f"a kernel of size {kernel}{spread} does not fit an input of size {n} with padding "
                         f"{padding} ({n + 2 * padding} cells): use a smaller kernel or dilation, or more padding")
    return (n + 2 * padding - span) // stride + 1


def _matrix(array, name: str, shape_hint: str) -> np.ndarray:
    out = np.asarray(array, dtype=np.float64)
    if out.ndim != 2 or 0 in out.shape:
        raise ValueError(f"{name} must be a 2-D array {shape_hint}, got shape {out.shape}")
    return out


def conv_output_shape(image_shape, kernel_shape, padding: int = 0, stride: int = 1,
                      dilation: int = 1) -> tuple[int, int]:
    """(H', W') of a kernel of shape (kh, kw) over an image of shape (H, W)."""
    (h, w), (kh, kw) = image_shape, kernel_shape
    return output_size(h, kh, padding, stride, dilation), output_size(w, kw, padding, stride, dilation)


def _windows(padded: np.ndarray, kernel_shape, stride: int, dilation: int) -> np.ndarray:
    """(..., H', W', kh, kw): the input cells under the kernel at each output cell (a view, no copy)."""
    kh, kw = kernel_shape
    spans = (dilation * (kh - 1) + 1, dilation * (kw - 1) + 1)
    view = sliding_window_view(padded, spans, axis=(-2, -1))
    return view[..., ::stride, ::stride, ::dilation, ::dilation]


def _pad(x: np.ndarray, padding: int) -> np.ndarray:
    return np.pad(x, [(0, 0)] * (x.ndim - 2) + [(padding, padding)] * 2)


def conv2d(image, kernel, padding: int = 0, stride: int = 1, dilation: int = 1, bias: float = 0.0) -> np.ndarray:
    """The output map (H', W') of one kernel (kh, kw) slid over one image (H, W), plus `bias`."""
    image = _matrix(image, "the image", "(H, W)")
    kernel = _matrix(kernel, "the kernel", "(k, k)")
    conv_output_shape(image.shape, kernel.shape, padding, stride, dilation)  # checks the sizes
    windows = _windows(_pad(image, padding), kernel.shape, stride, dilation)
    return np.einsum("ijab,ab->ij", windows, kernel) + float(bias)


def output_positions(image_shape, kernel_shape, padding: int = 0, stride: int = 1,
                     dilation: int = 1) -> list[tuple[int, int]]:
    """Every output cell (i, j) in the order the kernel visits them: row by row, left to right."""
    rows, cols = conv_output_shape(image_shape, kernel_shape, padding, stride, dilation)
    return [(i, j) for i in range(rows) for j in range(cols)]


@dataclass(frozen=True)
class ConvCell:
    """The arithmetic of one output cell: total = Σ inputs · weights + bias.

    The kernel's cell (a, b) lies on padded row padded_rows[a] and column padded_cols[b]; in the
    image's own coordinates that is (image_rows[a], image_cols[b]), outside the image (negative
    or past its edge) where in_padding[a, b] is True, and the input there is 0."""
    i: int
    j: int
    padded_rows: np.ndarray  # (kh,) int
    padded_cols: np.ndarray  # (kw,) int
    image_rows: np.ndarray   # (kh,) int
    image_cols: np.ndarray   # (kw,) int
    in_padding: np.ndarray   # (kh, kw) bool
    inputs: np.ndarray       # (kh, kw) the input values under the kernel
    weights: np.ndarray      # (kh, kw) the kernel
    products: np.ndarray     # (kh, kw) inputs * weights
    bias: float
    total: float


def conv_cell(image, kernel, padding: int = 0, stride: int = 1, dilation: int = 1, i: int = 0, j: int = 0,
              bias: float | None = None) -> ConvCell:
    """The detail of output cell (i, j) of conv2d(image, kernel, padding, stride, dilation, bias)."""
    image = _matrix(image, "the image", "(H, W)")
    kernel = _matrix(kernel, "the kernel", "(k, k)")
    rows, cols = conv_output_shape(image.shape, kernel.shape, padding, stride, dilation)
    if not (0 <= i < rows and 0 <= j < cols):
        raise ValueError(f"output cell ({i}, {j}) is outside the {rows}×{cols} output: "
                         f"use 0 <= i < {rows} and 0 <= j < {cols}")
    kh, kw = kernel.shape
    padded_rows = i * stride + dilation * np.arange(kh)
    padded_cols = j * stride + dilation * np.arange(kw)
    image_rows, image_cols = padded_rows - padding, padded_cols - padding
    row_inside = (image_rows >= 0) & (image_rows < image.shape[0])
    col_inside = (image_cols >= 0) & (image_cols < image.shape[1])
    in_padding = ~(row_inside[:, None] & col_inside[None, :])
    inputs = _pad(image, padding)[np.ix_(padded_rows, padded_cols)]
    products = inputs * kernel
    bias = 0.0 if bias is None else float(bias)
    return ConvCell(i=i, j=j, padded_rows=padded_rows, padded_cols=padded_cols, image_rows=image_rows,
                    image_cols=image_cols, in_padding=in_padding, inputs=inputs, weights=kernel.copy(),
                    products=products, bias=bias, total=float(products.sum()) + bias)


def pool2d(x, size: int = 2, stride: int | None = None, mode: str = "max") -> np.ndarray:
    """Max or average pooling of a map (H, W) over size×size windows, `stride` apart (default: size)."""
    windows = _pool_windows(x, size, stride)
    if mode == "max":
        return windows.max(axis=(-2, -1))
    if mode == "avg":
        return windows.mean(axis=(-2, -1))
    raise ValueError(f"pooling mode must be 'max' or 'avg', got {mode!r}")


def max_pool_winners(x, size: int = 2, stride: int | None = None) -> np.ndarray:
    """(H', W', 2): the (row, col) of the input cell each max-pooling output took its value from
    (the first in reading order on a tie, as PyTorch picks)."""
    windows = _pool_windows(x, size, stride)
    stride = size if stride is None else stride
    rows, cols = windows.shape[:2]
    flat = windows.reshape(rows, cols, -1).argmax(axis=-1)
    win_row, win_col = np.divmod(flat, size)
    out_row, out_col = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    return np.stack([out_row * stride + win_row, out_col * stride + win_col], axis=-1)


def _pool_windows(x, size: int, stride: int | None) -> np.ndarray:
    x = _matrix(x, "the map to pool", "(H, W)")
    stride = size if stride is None else stride
    conv_output_shape(x.shape, (size, size), 0, stride, 1)  # checks the sizes
    return _windows(x, (size, size), stride, 1)


def conv_layer(x, weights, bias=None, padding: int = 0, stride: int = 1, dilation: int = 1) -> np.ndarray:
    """A convolutional layer: C_in maps (C_in, H, W) to C_out maps (C_out, H', W').

    Output map o is Σ_c conv2d(x[c], weights[o, c]) + bias[o]: every output map looks at every
    input map, each through its own kernel; weights are (C_out, C_in, k, k), bias (C_out,)."""
    x, weights = np.asarray(x, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"the layer's input must be (C_in, H, W), got shape {x.shape}: "
                         "give one image as x[None] (one channel)")
    if weights.ndim != 4 or weights.shape[1] != x.shape[0]:
        raise ValueError(f"weights must be (C_out, C_in={x.shape[0]}, k, k), got shape {weights.shape}")
    conv_output_shape(x.shape[1:], weights.shape[2:], padding, stride, dilation)  # checks the sizes
    windows = _windows(_pad(x, padding), weights.shape[2:], stride, dilation)
    out = np.einsum("cijab,ocab->oij", windows, weights)
    if bias is not None:
        bias = np.asarray(bias, dtype=np.float64)
        if bias.shape != (weights.shape[0],):
            raise ValueError(f"bias must be (C_out,) = ({weights.shape[0]},), got shape {bias.shape}")
        out += bias[:, None, None]
    return out


@dataclass(frozen=True)
class LayerParams:
    """Parameters of a convolutional layer against a dense layer mapping the same input size
    (C_in·H·W) to the same output size (C_out·H'·W'); biases included in both."""
    conv: int
    dense: int
    ratio: float                         # dense / conv: how many times more the dense layer needs
    output_shape: tuple[int, int, int]   # (C_out, H', W')


def layer_params(c_in: int, c_out: int, k: int, h: int, w: int, padding: int = 0, stride: int = 1,
                 dilation: int = 1, bias: bool = True) -> LayerParams:
    """The conv layer's parameter count (weights shared across positions) against a dense layer's."""
    c_in, c_out = _whole(c_in, "input channels", 1), _whole(c_out, "output channels", 1)
    rows, cols = conv_output_shape((h, w), (k, k), padding, stride, dilation)
    n_in, n_out = c_in * h * w, c_out * rows * cols
    conv = c_out * c_in * k * k + (c_out if bias else 0)
    dense = n_in * n_out + (n_out if bias else 0)
    return LayerParams(conv=conv, dense=dense, ratio=dense / conv, output_shape=(c_out, rows, cols))


def transposed_output_size(n: int, kernel: int, stride: int = 1, padding: int = 0) -> int:
    """Cells along one axis of a transposed convolution's output: (n − 1)·stride − 2·padding + kernel."""
    n, kernel = _whole(n, "input size", 1), _whole(kernel, "kernel size", 1)
    stride, padding = _whole(stride, "stride", 1), _whole(padding, "padding", 0)
    full = (n - 1) * stride + kernel
    if 2 * padding >= full:
        raise ValueError(f"padding {padding} crops away the whole {full}-cell output of a kernel of size {kernel} "
                         f"over {n} cells with stride {stride}: use padding below {(full + 1) // 2}")
    return full - 2 * padding


def conv_transpose2d(x, kernel, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The transposed convolution of a map (H, W): input cell (i, j) adds x[i, j] · kernel at
    (i·stride, j·stride) of a larger map, whose border of `padding` cells is then cut off."""
    x = _matrix(x, "the map", "(H, W)")
    kernel = _matrix(kernel, "the kernel", "(k, k)")
    (h, w), (kh, kw) = x.shape, kernel.shape
    rows, cols = transposed_output_size(h, kh, stride, padding), transposed_output_size(w, kw, stride, padding)
    full = np.zeros(((h - 1) * stride + kh, (w - 1) * stride + kw))
    for a in range(kh):  # k² shifted, strided adds rather than H·W scattered copies
        for b in range(kw):
            full[a:a + (h - 1) * stride + 1:stride, b:b + (w - 1) * stride + 1:stride] += kernel[a, b] * x
    return full[padding:padding + rows, padding:padding + cols]


def overlap_counts(input_shape, kernel_size: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """(H_out, W_out) ints: how many placements of the kernel touch each output cell of a
    transposed convolution. Even in the interior when the stride divides the kernel size
    (stride 1 always); a checkerboard when it does not (stride 2, 3×3 kernel: 1, 2 and 4)."""
    ones = np.ones(tuple(input_shape))
    counts = conv_transpose2d(ones, np.ones((kernel_size, kernel_size)), stride, padding)
    return np.rint(counts).astype(np.int64)


@dataclass(frozen=True)
class PresetKernel:
    name: str
    weights: np.ndarray  # (3, 3), read-only
    description: str


def _preset(name: str, rows, description: str, scale: float = 1.0) -> PresetKernel:
    weights = np.array(rows, dtype=np.float64) * scale
    weights.setflags(write=False)  # shared by every session: nobody may change it in place
    return PresetKernel(name, weights, description)


# Classic image-processing kernels, to show what one kernel picks out of a digit before the
# network learns its own.
PRESET_KERNELS: dict[str, PresetKernel] = {p.name: p for p in (
    _preset("identity", [[0, 0, 0], [0, 1, 0], [0, 0, 0]], "Copies the input: only the centre counts."),
    _preset("box blur", [[1, 1, 1], [1, 1, 1], [1, 1, 1]], "The mean of the 3×3 neighbourhood: smooths.", 1 / 9),
    _preset("gaussian blur", [[1, 2, 1], [2, 4, 2], [1, 2, 1]],
            "A weighted mean, the centre counting most: smooths, keeps shapes better.", 1 / 16),
    _preset("sharpen", [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
            "The centre minus its neighbours, added to itself: edges stand out."),
    _preset("sobel x", [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
            "Edges across x: high where the input grows from left to right (vertical strokes)."),
    _preset("sobel y", [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
            "Edges across y: high where the input grows from top to bottom (horizontal strokes)."),
    _preset("outline", [[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]],
            "A Laplacian: zero on flat areas, large on outlines in every direction."),
    _preset("emboss", [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
            "Light from the bottom right: strokes look raised, as if pressed into metal."),
)}
