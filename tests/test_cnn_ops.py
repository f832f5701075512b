"""engine.cnn.ops against two oracles: plain nested-loop references written here (one input cell
at a time, no slicing tricks) and torch.nn.functional (conv2d, conv_transpose2d, max_pool2d,
avg_pool2d), across paddings, strides, dilations and kernel sizes drawn by hypothesis."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.cnn.ops import (PRESET_KERNELS, conv2d, conv_cell, conv_layer, conv_output_shape, conv_transpose2d,
                            layer_params, max_pool_winners, output_positions, output_size, overlap_counts, pool2d,
                            transposed_output_size)

EXAMPLES = settings(max_examples=40, deadline=None, derandomize=True, database=None)
TOL = 1e-6


# ---- the loop references --------------------------------------------------------------------

def ref_padded_value(image, r, c, padding):
    """The value at padded coordinates (r, c): the image's cell, or 0 in the padding."""
    r, c = r - padding, c - padding
    if 0 <= r < len(image) and 0 <= c < len(image[0]):
        return image[r][c]
    return 0.0


def ref_out_len(n, k, padding, stride, dilation):
    count = 0
    while count * stride + dilation * (k - 1) < n + 2 * padding:
        count += 1
    return count


def ref_conv2d(image, kernel, padding, stride, dilation, bias=0.0):
    kh, kw = len(kernel), len(kernel[0])
    rows = ref_out_len(len(image), kh, padding, stride, dilation)
    cols = ref_out_len(len(image[0]), kw, padding, stride, dilation)
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            total = bias
            for a in range(kh):
                for b in range(kw):
                    total += kernel[a][b] * ref_padded_value(image, i * stride + a * dilation,
                                                             j * stride + b * dilation, padding)
            out[i, j] = total
    return out


def ref_conv_layer(x, weights, bias, padding, stride, dilation):
    c_out, c_in = len(weights), len(x)
    maps = []
    for o in range(c_out):
        total = None
        for c in range(c_in):
            one = ref_conv2d(x[c], weights[o][c], padding, stride, dilation)
            total = one if total is None else total + one
        maps.append(total + bias[o])
    return np.array(maps)


def ref_pool(x, size, stride, mode):
    rows = (len(x) - size) // stride + 1
    cols = (len(x[0]) - size) // stride + 1
    out, winners = np.zeros((rows, cols)), np.zeros((rows, cols, 2), dtype=int)
    for i in range(rows):
        for j in range(cols):
            best, where, total = -np.inf, None, 0.0
            for a in range(size):
                for b in range(size):
                    value = x[i * stride + a][j * stride + b]
                    total += value
                    if value > best:
                        best, where = value, (i * stride + a, j * stride + b)
            out[i, j] = best if mode == "max" else total / (size * size)
            winners[i, j] = where
    return out, winners


def ref_conv_transpose(x, kernel, stride, padding):
    h, w, k = len(x), len(x[0]), len(kernel)
    full = np.zeros(((h - 1) * stride + k, (w - 1) * stride + k))
    for i in range(h):
        for j in range(w):
            for a in range(k):
                for b in range(k):
                    full[i * stride + a, j * stride + b] += x[i][j] * kernel[a][b]
    rows, cols = full.shape[0] - 2 * padding, full.shape[1] - 2 * padding
    out = np.zeros((rows, cols))
    for r in range(rows):
        for c in range(cols):
            out[r, c] = full[r + padding, c + padding]
    return out


def as_torch(array):
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float64))


# ---- the drawn cases ------------------------------------------------------------------------

@st.composite
def conv_cases(draw):
    """A kernel, padding, stride and dilation, and an image they fit (at least one output cell)."""
    k = draw(st.integers(1, 5))
    dilation = draw(st.integers(1, 3))
    padding = draw(st.integers(0, 3))
    stride = draw(st.integers(1, 3))
    smallest = max(1, dilation * (k - 1) + 1 - 2 * padding)
    h, w = draw(st.integers(smallest, smallest + 8)), draw(st.integers(smallest, smallest + 8))
    seed = draw(st.integers(0, 2**31 - 1))
    return k, padding, stride, dilation, h, w, np.random.default_rng(seed)


@EXAMPLES
@given(conv_cases())
def test_conv2d_matches_the_loop_and_torch(case):
    k, padding, stride, dilation, h, w, rng = case
    image, kernel, bias = rng.normal(size=(h, w)), rng.normal(size=(k, k)), float(rng.normal())
    ours = conv2d(image, kernel, padding, stride, dilation, bias=bias)
    np.testing.assert_allclose(ours, ref_conv2d(image, kernel, padding, stride, dilation, bias), atol=TOL)
    theirs = F.conv2d(as_torch(image)[None, None], as_torch(kernel)[None, None], as_torch([bias]),
                      stride=stride, padding=padding, dilation=dilation)[0, 0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=TOL)
    assert ours.shape == conv_output_shape((h, w), (k, k), padding, stride, dilation)
    assert ours.shape == (output_size(h, k, padding, stride, dilation), output_size(w, k, padding, stride, dilation))


@EXAMPLES
@given(conv_cases())
def test_every_cell_adds_up_its_products_and_marks_the_padding(case):
    k, padding, stride, dilation, h, w, rng = case
    image, kernel = rng.normal(size=(h, w)), rng.normal(size=(k, k))
    reference = ref_conv2d(image, kernel, padding, stride, dilation, bias=0.5)
    positions = output_positions((h, w), (k, k), padding, stride, dilation)
    assert positions == [(i, j) for i in range(reference.shape[0]) for j in range(reference.shape[1])]
    for i, j in positions:
        cell = conv_cell(image, kernel, padding, stride, dilation, i, j, bias=0.5)
        assert abs(cell.total - reference[i, j]) < TOL
        assert abs(cell.products.sum() + cell.bias - cell.total) < TOL
        np.testing.assert_allclose(cell.products, cell.inputs * kernel, atol=TOL)
        np.testing.assert_array_equal(cell.weights, kernel)
        for a in range(k):
            for b in range(k):
                pr, pc = i * stride + a * dilation, j * stride + b * dilation
                assert (cell.padded_rows[a], cell.padded_cols[b]) == (pr, pc)
                assert (cell.image_rows[a], cell.image_cols[b]) == (pr - padding, pc - padding)
                outside = not (0 <= pr - padding < h and 0 <= pc - padding < w)
                assert cell.in_padding[a, b] == outside
                assert cell.inputs[a, b] == ref_padded_value(image, pr, pc, padding)


def test_a_cell_outside_the_output_is_refused():
    with pytest.raises(ValueError, match=r"outside the 6×6 output"):
        conv_cell(np.zeros((8, 8)), np.ones((3, 3)), i=6, j=0)


@EXAMPLES
@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**31 - 1), st.integers(0, 6), st.integers(0, 6))
def test_pooling_matches_the_loop_and_torch(size, stride, seed, extra_h, extra_w):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(size + extra_h, size + extra_w))
    ref_max, ref_winners = ref_pool(x, size, stride, "max")
    ref_avg, _ = ref_pool(x, size, stride, "avg")
    np.testing.assert_allclose(pool2d(x, size, stride, "max"), ref_max, atol=TOL)
    np.testing.assert_allclose(pool2d(x, size, stride, "avg"), ref_avg, atol=TOL)
    np.testing.assert_array_equal(max_pool_winners(x, size, stride), ref_winners)
    theirs, flat = F.max_pool2d(as_torch(x)[None, None], size, stride, return_indices=True)
    np.testing.assert_allclose(pool2d(x, size, stride, "max"), theirs[0, 0].numpy(), atol=TOL)
    winners = max_pool_winners(x, size, stride)
    np.testing.assert_array_equal(winners[..., 0] * x.shape[1] + winners[..., 1], flat[0, 0].numpy())
    avg = F.avg_pool2d(as_torch(x)[None, None], size, stride)[0, 0].numpy()
    np.testing.assert_allclose(pool2d(x, size, stride, "avg"), avg, atol=TOL)


def test_pooling_stride_defaults_to_the_window_and_mode_is_checked():
    x = np.arange(16.0).reshape(4, 4)
    np.testing.assert_array_equal(pool2d(x), [[5, 7], [13, 15]])
    np.testing.assert_array_equal(pool2d(x, mode="avg"), [[2.5, 4.5], [10.5, 12.5]])
    with pytest.raises(ValueError, match="'max' or 'avg'"):
        pool2d(x, mode="min")


@EXAMPLES
@given(conv_cases(), st.integers(1, 3), st.integers(1, 3))
def test_conv_layer_matches_the_loop_and_torch(case, c_in, c_out):
    k, padding, stride, dilation, h, w, rng = case
    x, weights, bias = rng.normal(size=(c_in, h, w)), rng.normal(size=(c_out, c_in, k, k)), rng.normal(size=c_out)
    ours = conv_layer(x, weights, bias, padding, stride, dilation)
    np.testing.assert_allclose(ours, ref_conv_layer(x, weights, bias, padding, stride, dilation), atol=TOL)
    theirs = F.conv2d(as_torch(x)[None], as_torch(weights), as_torch(bias), stride=stride, padding=padding,
                      dilation=dilation)[0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=TOL)
    np.testing.assert_allclose(conv_layer(x, weights, None, padding, stride, dilation),
                               ours - bias[:, None, None], atol=TOL)


def test_conv_layer_refuses_shapes_that_do_not_match():
    with pytest.raises(ValueError, match=r"x\[None\]"):
        conv_layer(np.zeros((8, 8)), np.zeros((4, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"C_in=2"):
        conv_layer(np.zeros((2, 8, 8)), np.zeros((4, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"\(C_out,\) = \(4,\)"):
        conv_layer(np.zeros((1, 8, 8)), np.zeros((4, 1, 3, 3)), bias=np.zeros(3))


def test_layer_params_count_what_torch_layers_hold():
    count = layer_params(c_in=3, c_out=8, k=3, h=8, w=8, padding=1)
    conv = torch.nn.Conv2d(3, 8, 3, padding=1)
    dense = torch.nn.Linear(3 * 8 * 8, 8 * 8 * 8)
    assert count.conv == sum(p.numel() for p in conv.parameters()) == 224
    assert count.dense == sum(p.numel() for p in dense.parameters())
    assert count.ratio == pytest.approx(count.dense / count.conv)
    assert count.output_shape == (8, 8, 8)
    no_bias = layer_params(1, 4, 5, 8, 8, bias=False)  # 8 -> 4 per side without padding
    assert (no_bias.conv, no_bias.dense, no_bias.output_shape) == (4 * 25, 64 * 4 * 16, (4, 4, 4))


@st.composite
def transpose_cases(draw):
    k, stride = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    largest = (min(h, w) - 1) * stride + k  # the padding must leave at least one cell
    padding = draw(st.integers(0, (largest - 1) // 2))
    return k, stride, padding, h, w, np.random.default_rng(draw(st.integers(0, 2**31 - 1)))


@EXAMPLES
@given(transpose_cases())
def test_conv_transpose2d_matches_the_loop_and_torch(case):
    k, stride, padding, h, w, rng = case
    x, kernel = rng.normal(size=(h, w)), rng.normal(size=(k, k))
    ours = conv_transpose2d(x, kernel, stride, padding)
    np.testing.assert_allclose(ours, ref_conv_transpose(x, kernel, stride, padding), atol=TOL)
    theirs = F.conv_transpose2d(as_torch(x)[None, None], as_torch(kernel)[None, None], stride=stride,
                                padding=padding)[0, 0].numpy()
    np.testing.assert_allclose(ours, theirs, atol=TOL)
    assert ours.shape == (transposed_output_size(h, k, stride, padding), transposed_output_size(w, k, stride, padding))
    counts = overlap_counts((h, w), k, stride, padding)
    np.testing.assert_array_equal(counts, ref_conv_transpose(np.ones((h, w)), np.ones((k, k)), stride, padding))


def test_stride_two_with_a_3x3_kernel_leaves_a_checkerboard():
    counts = overlap_counts((6, 6), 3, stride=2)
    interior = counts[2:-2, 2:-2]
    assert set(np.unique(interior)) == {1, 2, 4}  # uneven: every other row and column gets twice the copies
    assert interior[0, 0] == 4 and interior[0, 1] == 2 and interior[1, 1] == 1
    out = conv_transpose2d(np.ones((6, 6)), np.ones((3, 3)), stride=2)  # a constant map comes out uneven
    assert out[2:-2, 2:-2].max() == 4 * out[2:-2, 2:-2].min()
    even = overlap_counts((6, 6), 3, stride=1)
    assert set(np.unique(even[2:-2, 2:-2])) == {9}  # stride 1: every interior cell under all nine placements
    assert set(np.unique(overlap_counts((6, 6), 4, stride=2)[3:-3, 3:-3])) == {4}  # stride divides the kernel


def test_a_kernel_that_does_not_fit_is_refused_with_its_sizes():
    with pytest.raises(ValueError, match=r"kernel of size 5 does not fit an input of size 4 with padding 0"):
        output_size(4, 5)
    with pytest.raises(ValueError, match=r"9 cells wide with dilation 2.*size 8"):
        conv2d(np.zeros((8, 8)), np.ones((5, 5)), dilation=2)
    with pytest.raises(ValueError, match=r"size 3 does not fit an input of size 2"):
        conv_layer(np.zeros((1, 8, 2)), np.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"size 3 does not fit an input of size 2"):
        pool2d(np.zeros((2, 2)), 3)
    with pytest.raises(ValueError, match=r"crops away the whole"):
        conv_transpose2d(np.zeros((1, 1)), np.ones((3, 3)), padding=2)
    assert output_size(4, 5, padding=1) == 2  # padding makes room


@pytest.mark.parametrize("bad", [{"stride": 0}, {"dilation": 0}, {"padding": -1}, {"stride": 1.5}])
def test_settings_out_of_range_are_refused(bad):
    with pytest.raises(ValueError, match="stride|dilation|padding"):
        output_size(8, 3, **bad)


def test_images_and_kernels_must_be_2d():
    with pytest.raises(ValueError, match=r"image must be a 2-D array \(H, W\), got shape \(64,\)"):
        conv2d(np.zeros(64), np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"kernel must be a 2-D array"):
        conv2d(np.zeros((8, 8)), np.ones(3))


def test_preset_kernels_do_what_they_say():
    names = {"identity", "box blur", "gaussian blur", "sharpen", "sobel x", "sobel y", "outline", "emboss"}
    assert set(PRESET_KERNELS) == names
    for name, preset in PRESET_KERNELS.items():
        assert preset.name == name and preset.weights.shape == (3, 3) and preset.weights.dtype == np.float64
        assert preset.description and "\n" not in preset.description
        assert not preset.weights.flags.writeable
    image = np.random.default_rng(0).random((8, 8))
    np.testing.assert_allclose(conv2d(image, PRESET_KERNELS["identity"].weights, padding=1), image, atol=TOL)
    for blur in ("box blur", "gaussian blur"):
        assert PRESET_KERNELS[blur].weights.sum() == pytest.approx(1.0)  # keeps the brightness
    flat = np.ones((6, 6))
    for name in ("outline", "sobel x", "sobel y"):  # no response where nothing changes
        np.testing.assert_allclose(conv2d(flat, PRESET_KERNELS[name].weights), 0.0, atol=TOL)
    ramp = np.tile(np.arange(6.0), (6, 1))  # grows left to right
    assert (conv2d(ramp, PRESET_KERNELS["sobel x"].weights) > 0).all()
    np.testing.assert_allclose(conv2d(ramp, PRESET_KERNELS["sobel y"].weights), 0.0, atol=TOL)
