"""AppTest of the Vanishing gradients page: it renders its charts and numbers, presets load,
controls reach the networks, Play/Step/Reset work, comparisons can be changed."""
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from app_pages.common.address import format_value
from app_pages.vanishing.state import (CLIP_NORMS, DATASETS, LEARNING_RATES, MAX_COMPARED, MAX_DEPTH, PRESETS, WIDTHS,
                                       config_from_widgets, default_widgets, widgets_from_query, widgets_to_query)
from engine.core.registries import ACTIVATIONS, INITS, NORMS, OPTIMIZERS
from tests.chart_helpers import live_keys

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "vanishing" / "page.py")


def open_page() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def main_config(at: AppTest):
    return at.session_state.vg_lab.runs[0].trainer.config


def test_page_renders_the_lesson():
    at = open_page()
    m = metrics(at)
    assert m["Step"] == "1"
    assert float(m["Layer 1 / last layer"]) < 1e-10  # sigmoid ×20 by default: the gradient has vanished
    assert live_keys(at) == {"vg_depth_chart", "vg_heatmap", "vg_activations", "vg_loss"}  # depth overlay, heatmap, activations, loss
    text = " ".join(md.value for md in at.markdown)
    assert "layer 1 receives" in text and "orders of magnitude" in text
    assert [r.label for r in at.session_state.vg_lab.runs] == ["Your network", "ReLU + He ×20",
                                                               "ReLU + residual + LayerNorm ×50"]


@pytest.mark.parametrize("name", list(PRESETS))
def test_each_preset_loads(name):
    at = open_page()
    at.selectbox(key="vg_preset").set_value(name).run()
    assert not at.exception, [e.value for e in at.exception]
    config = main_config(at)
    assert len(config.model.hidden) == PRESETS[name]["depth"]
    assert config.model.activation == PRESETS[name]["activation"] and config.model.residual == PRESETS[name]["residual"]


def test_controls_reach_the_network_and_hot_ones_keep_progress():
    at = open_page()
    at.slider(key="vg_depth").set_value(5).run()
    at.select_slider(key="vg_width").set_value(8).run()
    at.selectbox(key="vg_activation").set_value("tanh").run()
    at.selectbox(key="vg_init").set_value("xavier").run()
    at.selectbox(key="vg_norm").set_value("batch").run()
    at.toggle(key="vg_residual").set_value(True).run()
    at.selectbox(key="vg_optimizer").set_value("adam").run()
    at.selectbox(key="vg_dataset").set_value("xor").run()
    assert not at.exception
    config = main_config(at)
    assert config.model.hidden == [8] * 5 and config.model.activation == "tanh" and config.model.init == "xavier"
    assert config.model.norm == "batch" and config.model.residual and config.train.optimizer == "adam"
    assert all(r.trainer.config.data.name == "xor" for r in at.session_state.vg_lab.runs)  # same data for all
    at.button(key="vg_step").click().run()
    trainer = at.session_state.vg_lab.runs[0].trainer
    assert trainer.step_count == 2
    at.select_slider(key="vg_lr").set_value(0.1).run()
    at.select_slider(key="vg_clip").set_value(1.0).run()
    assert at.session_state.vg_lab.runs[0].trainer is trainer and trainer.step_count == 2
    assert trainer.config.train.clip_grad_norm == 1.0 and trainer.optimizer.param_groups[0]["lr"] == 0.1


def test_play_trains_every_network_step_and_reset():
    at = open_page()
    at.button(key="vg_play").click().run()
    assert at.session_state.vg_lab.playing
    for _ in range(2):
        at.run()
    lab = at.session_state.vg_lab
    assert all(r.trainer.step_count > 1 for r in lab.runs)
    assert int(metrics(at)["Step"].replace(",", "")) > 1
    at.button(key="vg_pause").click().run()  # Pause
    assert not at.session_state.vg_lab.playing
    at.button(key="vg_reset").click().run()
    assert metrics(at)["Step"] == "1" and at.session_state.vg_lab is not lab


def test_comparison_and_inspection_change():
    at = open_page()
    at.multiselect(key="vg_compare").set_value(["tanh ×20"]).run()
    assert [r.label for r in at.session_state.vg_lab.runs] == ["Your network", "tanh ×20"]
    at.radio(key="vg_inspect").set_value("tanh ×20").run()
    assert not at.exception
    assert any("tanh ×20" in md.value for md in at.markdown if "Gradient norm of every layer" in md.value)
    at.multiselect(key="vg_compare").set_value([]).run()  # alone: no radio, no stale selection
    assert not at.exception and len(at.session_state.vg_lab.runs) == 1


def open_small(**widgets) -> AppTest:
    """The page with a small network (4 × 8 sigmoid) and no comparison: fast to build and train."""
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in {"vg_depth": 4, "vg_width": 8, "vg_compare": [], **widgets}.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def asking(at: AppTest) -> bool:
    return any("needs a new network" in w.value or "needs new networks" in w.value for w in at.warning)


def test_a_structural_change_asks_before_discarding_trained_networks():
    at = open_small()
    at.selectbox(key="vg_init").set_value("xavier").run()  # built with one step only: replaced without asking
    assert not asking(at) and main_config(at).model.init == "xavier"
    at.button(key="vg_step").click().run()
    at.button(key="vg_step").click().run()
    run = at.session_state.vg_lab.runs[0]
    assert run.trainer.step_count == 3 and len(run.steps) == 3

    at.selectbox(key="vg_activation").set_value("tanh").run()
    assert not at.exception, [e.value for e in at.exception]
    assert asking(at) and any("model.activation" in w.value and "3 steps" in w.value for w in at.warning)
    assert at.session_state.vg_lab.runs[0] is run and run.trainer.step_count == 3 and len(run.steps) == 3
    assert run.trainer.config.model.activation == "sigmoid"
    at.select_slider(key="vg_lr").set_value(0.1).run()  # hot: still reaches the network that keeps running
    assert run.trainer.config.train.lr == 0.1 and run.trainer.optimizer.param_groups[0]["lr"] == 0.1

    at.button(key="vg_keep").click().run()
    assert at.selectbox(key="vg_activation").value == "sigmoid" and not asking(at)
    assert at.session_state.vg_lab.runs[0] is run and run.trainer.step_count == 3

    at.multiselect(key="vg_compare").set_value(["tanh ×20"]).run()  # new networks to compare: asks too
    assert asking(at) and any("comparison" in w.value for w in at.warning)
    at.button(key="vg_keep").click().run()
    assert at.multiselect(key="vg_compare").value == [] and not asking(at)

    at.selectbox(key="vg_activation").set_value("tanh").run()
    at.button(key="vg_replace").click().run()
    assert not at.exception and not asking(at)
    new = at.session_state.vg_lab.runs[0]
    assert new is not run and new.trainer.config.model.activation == "tanh" and new.trainer.step_count == 1
    assert new.trainer.config.train.lr == 0.1  # the hot setting chosen while it asked
    at.button(key="vg_step").click().run()  # the buttons act on the new networks at once
    assert new.trainer.step_count == 2


def test_a_preset_replaces_trained_networks_without_asking():
    at = open_small()
    at.button(key="vg_step").click().run()
    at.selectbox(key="vg_preset").set_value("tanh ×20").run()
    assert not at.exception and not asking(at)
    assert main_config(at).model.activation == "tanh" and at.session_state.vg_lab.runs[0].trainer.step_count == 1


def test_layer_ratio_never_warns():
    import warnings

    from app_pages.vanishing.readings import layer_ratio
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a NumPy RuntimeWarning fails the test
        assert layer_ratio(np.array([2e-6, 5.0, 1e-3, 0.3], dtype=np.float32)) == pytest.approx(2e-3)
        assert layer_ratio(np.array([0.0, 1.0, 0.5, 0.2], dtype=np.float32)) == 0.0
        for bad in ([0.0, 0.0, 0.0, 0.0], [np.inf, 1.0, np.inf, 1.0], [np.nan, 1.0, 1.0, 1.0],
                    [3e38, 1.0, 1e-44, 1.0], [1.0, 2.0]):
            value = layer_ratio(np.array(bad, dtype=np.float32))
            assert np.isfinite(value) or np.isnan(value)
        assert np.isnan(layer_ratio(np.array([np.inf, 1.0, np.inf, 1.0], dtype=np.float32)))
        assert np.isnan(layer_ratio(np.zeros(4, dtype=np.float32)))


def test_spread_view_trains_16_seeds_of_a_plain_network_and_refuses_a_residual_one():
    at = open_small()
    assert any("sigmoid, tanh and ReLU + He presets can be spread" in c.value for c in at.caption)
    at.select_slider(key="vg_spread_epochs").set_value(5).run()
    at.button(key="vg_spread_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    _, result, message = at.session_state.vg_spread
    assert message is None and result.labels == [f"seed {s}" for s in range(16)]
    assert result.train_loss.shape[0] == 16 and np.isfinite(result.train_loss).all()
    charts = [c for c in at.get("plotly_chart") if "vg_spread" in c.proto.id]
    assert len(charts) == 2  # the curves and the final losses
    at.toggle(key="vg_residual").set_value(True).run()
    at.button(key="vg_spread_run").click().run()
    assert not at.exception
    assert any("cannot train this network" in w.value for w in at.warning)


def test_a_shared_address_opens_its_setup_and_the_address_follows_the_widgets():
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.query_params.update({"depth": "12", "activation": "tanh", "width": "33", "compare": "ReLU + He ×20",
                            "train.seed": "5"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    # The bad width is named on the page; everything else in the address is used.
    assert [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning] == [  # shown escaped: the address is user text
        "The address: width='33' was ignored: not one of 2, 4, 8, 16, 32, 64, 128, 256, 512."]
    config = main_config(at)
    assert len(config.model.hidden) == 12 and config.model.activation == "tanh" and config.train.seed == 5
    assert [r.label for r in at.session_state.vg_lab.runs] == ["Your network", "ReLU + He ×20"]
    assert at.query_params == {"depth": "12", "activation": "tanh", "compare": "ReLU + He ×20", "train.seed": "5"}
    at.slider(key="vg_depth").set_value(30).run()
    assert at.query_params["depth"] == "30" and not at.warning  # reported once, not on every rerun
    at.multiselect(key="vg_compare").set_value([]).run()
    assert at.query_params["compare"] == ""  # none, not the default pair


# ---------- any setup the address can carry opens; hostile values are named, one line each ----------
WIDGETS = {"vg_depth": "slider", "vg_width": "select_slider", "vg_lr": "select_slider", "vg_clip": "select_slider",
           "vg_activation": "selectbox", "vg_init": "selectbox", "vg_norm": "selectbox", "vg_optimizer": "selectbox",
           "vg_dataset": "selectbox", "vg_residual": "toggle", "vg_compare": "multiselect"}


def shown(at: AppTest, key: str):
    """The value the widget of `key` shows."""
    return getattr(at, WIDGETS[key])(key=key).value


@st.composite
def valid_addresses(draw) -> dict[str, str]:
    """Any subset of the page's parameters, each with a value its widget offers, and the seed.
    The widest networks are drawn up to 20 layers deep: 100 layers of 512 (26 M weights) open
    too (measured: 11 s and 2 GB under AppTest on the 2-core test machine), but too slowly to be
    drawn at random here."""
    width = draw(st.sampled_from(WIDTHS))
    values = {
        "depth": st.integers(1, MAX_DEPTH if width <= 128 else 20).map(str), "width": st.just(str(width)),
        "activation": st.sampled_from(list(ACTIVATIONS)), "init": st.sampled_from(list(INITS)),
        "norm": st.sampled_from(list(NORMS)), "residual": st.sampled_from(["true", "false"]),
        "optimizer": st.sampled_from(list(OPTIMIZERS)), "lr": st.sampled_from(LEARNING_RATES).map(format_value),
        "clip": st.sampled_from(CLIP_NORMS).map(format_value), "data": st.sampled_from(DATASETS),
        "compare": st.lists(st.sampled_from(list(PRESETS)), max_size=MAX_COMPARED, unique=True).map(";".join),
        "train.seed": st.integers(0, 2**31 - 1).map(str)}
    names = draw(st.sets(st.sampled_from(sorted(values))))
    return {name: draw(values[name]) for name in sorted(names)}


def open_address(query: dict) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


# Each example opens the page (a second or more): a failure is reported as drawn, not shrunk for minutes.
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow],
          phases=(Phase.explicit, Phase.reuse, Phase.generate))
@given(valid_addresses())
def test_any_setup_the_address_can_carry_opens_as_asked(query):
    at = open_address(query)
    values, problems = widgets_from_query(query)
    # no note on the address and no refusal; a network that diverges says so (⏸), which is the lesson
    assert not problems and not at.error and all(w.icon == "⏸" for w in at.warning)
    wanted, seed = {**default_widgets(), **values}, int(query.get("train.seed", 0))
    assert {key: shown(at, key) for key in WIDGETS} == wanted
    assert main_config(at) == config_from_widgets(wanted, seed) and at.session_state.global_seed == seed
    assert [r.label for r in at.session_state.vg_lab.runs] == ["Your network", *wanted["vg_compare"]]
    assert at.query_params == widgets_to_query(wanted, seed)  # the address it writes opens the same again


HOSTILE = ["9" * 5000, "²", "nan", "inf", "-inf", "", "nonesuch", "x" * 20_000]
GOOD = {"depth": "6", "lr": "0.01", "compare": "tanh ×20", "data": "moons", "init": "he",
        "width": "16", "activation": "tanh", "norm": "layer", "residual": "true", "optimizer": "adam", "clip": "5"}
HALVES = (list(GOOD)[:5], list(GOOD)[5:])  # each holds whole numbers, decimals and names


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v[:8]))
def test_a_hostile_value_is_named_in_one_line_and_the_other_parameters_apply(value):
    """The hostile value goes into half of the parameters (the first half or the second, in turn)
    and into the seed; the other half carries values the page offers."""
    names = HALVES[HOSTILE.index(value) % 2]
    at = open_address({**GOOD, **dict.fromkeys(names, value), "train.seed": value, "no.such.parameter": value})
    notes = [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning  # shown escaped: the address is user text
             if w.value.startswith("The address")]
    named = [n for n in names if not (n == "compare" and value == "")]  # an empty compare is none: valid
    assert len(notes) == len(named) and all("\n" not in n and len(n) < 400 for n in notes)
    assert all(sum(f"{n}={value[:200]!r}"[:-1] in note for note in notes) == 1 for n in named), notes
    assert "train.seed" in at.session_state.seed_warning and at.session_state.global_seed == 0  # the sidebar's line
    defaults, used = default_widgets(), widgets_from_query({k: v for k, v in GOOD.items() if k not in names})[0]
    wanted = {**defaults, **used, **({"vg_compare": []} if "compare" in names and value == "" else {})}
    assert {key: shown(at, key) for key in WIDGETS} == wanted  # the poisoned ones keep their defaults
    assert main_config(at) == config_from_widgets(wanted, 0)
