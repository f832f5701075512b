"""The Convolutions page's "One kernel" tab: its plain-Python logic (app_pages/cnn/operation_state.py)
against engine/cnn/ops.py and independent sums, its address, and the tab itself under AppTest."""
from __future__ import annotations

import base64
from fractions import Fraction

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app_pages.cnn import operation_state as s
from app_pages.common import address
from tests.chart_helpers import charts
from engine.cnn import ops

HOSTILE = ["²", "nan", "9" * 5000, "", "-1", "1e3", "<b>x</b>"]
SCRIPT = """
from app_pages.cnn.operation import operation_section
operation_section()
"""


# ---------- plain logic ----------

def written_total(arithmetic: str) -> Fraction:
    """Re-add the written sum term by term, reading "16·(−1)" and "(1/9)" as exact numbers."""
    def number(text: str) -> Fraction:
        return Fraction(text.strip("()").replace("−", "-"))
    left, _ = arithmetic.split(" = ")
    return sum((number(x) * number(w) for x, w in (term.split("·") for term in left.split(" + "))), Fraction(0))


@pytest.mark.parametrize("kernel", ["sobel x", "box blur", "gaussian blur", "emboss", s.CUSTOM[5]])
@pytest.mark.parametrize("padding,stride,dilation", [(1, 1, 1), (0, 2, 1), (2, 3, 2)])
def test_every_written_sum_adds_up_to_the_engines_cell(kernel, padding, stride, dilation):
    values = {**s.OP_DEFAULTS, "cv_op_kernel": kernel, "cv_op_padding": padding, "cv_op_stride": stride,
              "cv_op_dilation": dilation, "cv_op_digit": 7}
    setup = s.operation_setup(values)
    for position in range(0, len(setup.positions), 3):
        cell = s.cell_of(setup, position)
        text = s.cell_arithmetic(cell)
        assert text.count("·") == cell.weights.size
        assert float(written_total(text)) == pytest.approx(cell.total, abs=1e-9)
        assert text.endswith(f"= {s.plain_number(cell.total)}")
        assert cell.total == pytest.approx(setup.output[cell.i, cell.j])


def test_the_size_formula_has_the_users_numbers_and_the_engines_result():
    assert s.size_formula(8, 3, 1, 1, 1) == "out = ⌊(8 + 2·1 − 1·(3−1) − 1)/1⌋ + 1 = 8"
    for p, st_, d in [(0, 1, 1), (2, 3, 2), (0, 2, 2)]:
        assert s.size_formula(8, 3, p, st_, d).endswith(f"= {(8 + 2 * p - d * 2 - 1) // st_ + 1}")
    with pytest.raises(ValueError, match="does not fit"):
        s.size_formula(8, 5, 0, 1, 2)


def test_the_digit_is_shown_in_the_whole_numbers_it_was_drawn_in():
    image, index = s.test_digit(3, 1)
    assert image.shape == (8, 8) and image.max() <= 16 and np.all(image == np.round(image))
    assert s.test_digit(3, 2)[1] != index and not np.array_equal(s.test_digit(4, 1)[0], image)


def test_custom_kernel_text_round_trips_and_refuses_what_it_cannot_read():
    kernel = s.kernel_from_text("1, -0.5 ,0;2,0,-2;1,0,-1.125", 3)
    assert kernel[0, 1] == -0.5 and kernel[2, 2] == -1.125
    assert np.array_equal(s.kernel_from_text(s.kernel_to_text(kernel), 3), kernel)
    for bad in HOSTILE + ["1,2,3;4,5,6", "1,2,3;4,5,6;7,8,101", "1,2,3;4,5,6;7,8,0.0001"]:
        with pytest.raises(ValueError):
            s.kernel_from_text(bad, 3)


def test_editor_edits_land_in_the_kernel_text_cleaned():
    text = s.apply_edits(s.OP_DEFAULTS["cv_op_custom3"], 3, {0: {"2": 5}, 2: {"3": None, "1": 1e9}, 9: {"1": 4}})
    assert s.kernel_from_text(text, 3).tolist() == [[1, 5, 1], [0, 0, 0], [s.CUSTOM_LIMIT, -1, 0]]
    assert s.clean_weight("nan") == 0 and s.clean_weight("x") == 0 and s.clean_weight(-0.0004) == 0


def test_play_stops_at_the_last_cell_and_positions_are_clamped():
    assert s.play_step(0, 64) == (1, True)
    assert s.play_step(62, 64) == (63, False)
    assert s.clamp_position(10**9, 16) == 15 and s.clamp_position("x", 16) == 0 and s.clamp_position(-3, 4) == 0
    setup = s.operation_setup(s.OP_DEFAULTS)
    shown = s.output_so_far(setup, 9)
    assert np.isfinite(shown).sum() == 10 and np.isnan(shown[1, 2]) and shown[1, 1] == setup.output[1, 1]


def test_the_layer_sentence_carries_the_engines_counts():
    counts = ops.layer_params(1, 8, 3, 8, 8, padding=1)
    text = s.layer_sentence(1, 8, 3, counts)
    assert "**80 parameters**" in text and "from 64 to 512 numbers" in text and "**33,280**" in text
    assert "**416× more**" in text
    weights = s.layer_kernels(2, 3, "presets", 0)
    assert weights.shape == (3, 2, 3, 3) and np.array_equal(weights[0, 1], ops.PRESET_KERNELS["box blur"].weights)
    assert np.array_equal(s.layer_kernels(3, 4, "random", 5), s.layer_kernels(3, 4, "random", 5))
    assert s.layer_inputs(np.ones((8, 8)), 3).shape == (3, 8, 8)


def test_the_checkerboard_is_explained_only_where_copies_overlap_unevenly():
    uneven = s.checkerboard_sentence(3, 2, ops.overlap_counts((3, 3), 3, 2))
    assert "unevenly" in uneven and "1, 2, 4" in uneven
    assert "stays flat" in s.checkerboard_sentence(4, 2, ops.overlap_counts((3, 3), 4, 2))
    assert "no overlap" in s.checkerboard_sentence(2, 2, ops.overlap_counts((3, 3), 2, 2))


# ---------- the address ----------

def test_every_setting_has_an_address_parameter_and_round_trips():
    assert {p.key for p in s.OP_URL_PARAMS} == set(s.OP_DEFAULTS)
    assert all(p.key.startswith("cv_op_") and p.name.startswith("op.") for p in s.OP_URL_PARAMS)
    others = {"cv_op_kernel": s.CUSTOM[5], "cv_op_custom3": "0.25,-1,0;0,1,0;0,0,-100", "cv_op_padding": 2,
              "cv_op_position": s.MAX_POSITIONS - 1, "cv_op_layer_source": "random", "cv_op_tr_kernel": "above"}
    for values in (s.OP_DEFAULTS, {**s.OP_DEFAULTS, **others}):
        query = address.widgets_to_query(s.OP_URL_PARAMS, values, {}, seed=1)
        back, problems = address.widgets_from_query(s.OP_URL_PARAMS, query)
        assert problems == [] and back == values
        assert s.corrections(values) == {}


def test_hostile_address_values_are_refused_with_a_sentence():
    for text in HOSTILE:
        back, problems = address.widgets_from_query(s.OP_URL_PARAMS, {p.name: text for p in s.OP_URL_PARAMS})
        assert back == {} and len(problems) == len(s.OP_URL_PARAMS)
        assert all(" was ignored: " in p and len(p) < 400 for p in problems)


def test_settings_no_widget_can_show_go_back_to_their_defaults():
    bad = {"cv_op_padding": "²", "cv_op_stride": 7, "cv_op_kernel": "nope", "cv_op_custom3": "nan",
           "cv_op_dilation": True, "cv_op_c_out": 2.0}
    assert s.corrections({**s.OP_DEFAULTS, **bad}) == {key: s.OP_DEFAULTS[key] for key in bad}


# ---------- the tab ----------

def decode(value) -> np.ndarray:
    if isinstance(value, dict):  # NumPy data sent as typed binary
        shape = [int(n) for n in str(value["shape"]).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.asarray(value, dtype=np.float64)


def arithmetic(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Output cell")).split("** = ", 1)[1]


def formula(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Output size**")).split("`")[1]


@pytest.fixture(scope="module")
def tab() -> AppTest:
    return AppTest.from_string(SCRIPT, default_timeout=60).run()


def fresh() -> AppTest:
    return AppTest.from_string(SCRIPT, default_timeout=60)


def test_the_tab_renders_every_part(tab):
    assert not tab.exception and not tab.warning
    assert {"cv_op_fig_input", "cv_op_fig_kernel", "cv_op_fig_products", "cv_op_fig_output", "cv_op_pool_input",
            "cv_op_pool_max", "cv_op_pool_avg", "cv_op_layer", "cv_op_tr_out", "cv_op_tr_counts"} <= set(charts(tab))
    assert formula(tab) == s.size_formula(8, 3, 1, 1, 1)


def test_next_moves_the_window_and_writes_the_engines_sum(tab):
    before = charts(tab)["cv_op_fig_input"]["layout"]["shapes"][0]["x0"]
    tab.button(key="cv_op_next").click().run()
    tab.button(key="cv_op_next").click().run()
    assert tab.session_state["cv_op_position"] == 2
    shown = charts(tab)
    assert shown["cv_op_fig_input"]["layout"]["shapes"][0]["x0"] == before + 2
    assert shown["cv_op_fig_output"]["layout"]["shapes"][0]["x0"] == 2 - 0.5
    image, _ = s.test_digit(3, 1)
    cell = ops.conv_cell(image, ops.PRESET_KERNELS["sobel x"].weights, 1, 1, 1, 0, 2)
    assert arithmetic(tab).endswith(f"= {s.plain_number(cell.total)}")
    assert float(written_total(arithmetic(tab))) == pytest.approx(cell.total)
    tab.button(key="cv_op_prev").click().run()
    assert tab.session_state["cv_op_position"] == 1 and not tab.exception


def test_padding_and_stride_change_the_formula_and_the_output(tab):
    tab.slider(key="cv_op_padding").set_value(0).run()
    tab.slider(key="cv_op_stride").set_value(2).run()
    assert formula(tab) == "out = ⌊(8 + 2·0 − 1·(3−1) − 1)/2⌋ + 1 = 3"
    assert decode(charts(tab)["cv_op_fig_output"]["data"][0]["z"]).shape == (3, 3)
    assert decode(charts(tab)["cv_op_pool_max"]["data"][0]["z"]).shape == (1, 1)
    tab.slider(key="cv_op_padding").set_value(1).run()
    tab.slider(key="cv_op_stride").set_value(1).run()


def test_a_custom_kernel_is_the_one_used():
    at = fresh()
    at.session_state["cv_op_kernel"] = s.CUSTOM[3]
    at.session_state["cv_op_custom3"] = "0,0,0;0,2,0;0,0,-0.5"
    at.session_state["cv_op_position"] = 27
    at.run()
    assert not at.exception
    i, j = divmod(27, 8)
    image, _ = s.test_digit(3, 1)
    cell = ops.conv_cell(image, [[0, 0, 0], [0, 2, 0], [0, 0, -0.5]], 1, 1, 1, i, j)
    assert arithmetic(at).endswith(f"= {s.plain_number(cell.total)}") and "·(−0.5)" in arithmetic(at)
    assert np.array_equal(decode(charts(at)["cv_op_fig_kernel"]["data"][0]["z"]), cell.weights)


def test_the_layer_and_the_transposed_convolution_show_the_engines_numbers():
    at = fresh()
    for key, value in {"cv_op_c_in": 2, "cv_op_c_out": 5, "cv_op_layer_source": "random", "cv_op_tr_input": "digit",
                       "cv_op_tr_kernel": "ones4", "cv_op_tr_stride": 2}.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception
    counts = ops.layer_params(2, 5, 3, 8, 8, padding=1)
    sentence = next(m.value for m in at.markdown if m.value.startswith("A conv layer"))
    assert f"**{counts.conv:,} parameters**" in sentence and f"**{counts.dense:,}**" in sentence
    image, _ = s.test_digit(3, 1)
    small = ops.pool2d(image, 2, mode="avg")
    shown = charts(at)
    assert np.allclose(decode(shown["cv_op_tr_out"]["data"][0]["z"]), ops.conv_transpose2d(small, np.ones((4, 4)), 2))
    assert np.array_equal(decode(shown["cv_op_tr_counts"]["data"][0]["z"]), ops.overlap_counts((4, 4), 4, 2))
    assert len(shown["cv_op_layer"]["data"]) == 2 + 2 * 5 + 5  # input maps, kernels, output maps


def test_play_runs_to_the_last_cell_and_stops():
    at = fresh()
    at.session_state["cv_op_stride"] = 3  # 3×3 output: 9 cells
    at.session_state["cv_op_position"] = 6
    at.run()
    at.button(key="cv_op_play").click().run()
    assert at.session_state["cv_op_position"] == 7 and at.session_state["cv_op_playing"]
    at.run()  # the next tick reaches the last cell and stops
    assert at.session_state["cv_op_position"] == 8 and not at.session_state["cv_op_playing"]
    assert not at.exception and at.button(key="cv_op_play").label == "▶ Play"


def test_a_kernel_that_does_not_fit_is_a_sentence_and_hostile_state_is_no_exception():
    at = fresh()
    at.session_state["cv_op_kernel"] = s.CUSTOM[5]
    at.session_state["cv_op_dilation"] = 2
    at.session_state["cv_op_padding"] = 0
    at.session_state["cv_op_c_out"] = "²"
    at.session_state["cv_op_position"] = "nan"
    at.run()
    assert not at.exception
    assert "does not fit" in at.warning[0].value
    assert "cv_op_layer" in charts(at) and at.session_state["cv_op_c_out"] == s.OP_DEFAULTS["cv_op_c_out"]
