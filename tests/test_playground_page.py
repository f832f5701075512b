"""AppTest of the Playground page: it renders, every control reaches the config, Play trains,
the URL round-trips, a bad URL parameter warns."""
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from engine import ExperimentConfig
from tests.chart_helpers import LIVE_PLOTLY, live_keys

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "playground" / "page.py")


def open_page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def current_config(at: AppTest) -> ExperimentConfig:
    return ExperimentConfig.from_json(at.session_state.pg_saved_config)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_page_renders_metrics_and_charts():
    at = open_page()
    m = metrics(at)
    assert {"Epoch", "Train loss", "Test loss"} <= set(m)
    assert m["Epoch"] == "0"
    assert "pg_network" in live_keys(at)  # the network diagram, drawn in place
    # the decision boundary and the loss curves: live canvases; the default task has 250 training points
    canvases = {e.proto.id.split("-")[-1]: json.loads(e.proto.json) for e in at.get("bidi_component")
                if e.proto.component_name != LIVE_PLOTLY}
    assert set(canvases) == {"pg_boundary", "pg_loss_chart"}
    assert canvases["pg_boundary"]["res"] == 50 and len(canvases["pg_boundary"]["values"]) == 50 * 50
    assert [len(s["x"]) for s in canvases["pg_boundary"]["points"]] == [250]
    assert canvases["pg_loss_chart"]["empty_text"] == "Nothing trained yet"


# (widget kind, key, new value, config section, field, expected config value)
CONTROLS = [
    ("selectbox", "pg_dataset", "xor", "data", "name", "xor"),
    ("slider", "pg_noise", 20, "data", "noise", 0.2),
    ("select_slider", "pg_n_samples", 300, "data", "n_samples", 300),
    ("slider", "pg_test_pct", 30, "data", "test_fraction", 0.3),
    ("multiselect", "pg_features", ["x1", "x2", "x1_x2"], "data", "features", ["x1", "x2", "x1_x2"]),
    ("number_input", "pg_layers", 3, "model", "hidden", [4, 2, 4]),
    ("number_input", "pg_width_0", 7, "model", "hidden", [7, 2]),
    ("selectbox", "pg_activation", "relu", "model", "activation", "relu"),
    ("selectbox", "pg_init", "he", "model", "init", "he"),
    ("selectbox", "pg_norm", "layer", "model", "norm", "layer"),
    ("slider", "pg_dropout", 0.1, "model", "dropout", 0.1),
    ("toggle", "pg_residual", True, "model", "residual", True),
    ("selectbox", "pg_loss", "hinge", "train", "loss", "hinge"),
    ("selectbox", "pg_optimizer", "adam", "train", "optimizer", "adam"),
    ("select_slider", "pg_lr", 0.1, "train", "lr", 0.1),
    ("select_slider", "pg_momentum", 0.9, "train", "momentum", 0.9),
    ("select_slider", "pg_batch", 20, "train", "batch_size", 20),
    ("select_slider", "pg_clip", 1.0, "train", "clip_grad_norm", 1.0),
    ("select_slider", "pg_l1", 0.001, "train", "l1", 0.001),
    ("select_slider", "pg_l2", 0.01, "train", "l2", 0.01),
    ("number_input", "pg_max_epochs", 100, "train", "max_epochs", 100),
]


@pytest.mark.parametrize("kind, key, value, section, field, expected", CONTROLS, ids=[c[1] for c in CONTROLS])
def test_each_control_changes_the_config(kind, key, value, section, field, expected):
    at = open_page()
    before = current_config(at)
    getattr(at, kind)(key=key).set_value(value).run()
    assert not at.exception, [e.value for e in at.exception]
    after = current_config(at)
    assert getattr(getattr(after, section), field) == (pytest.approx(expected) if isinstance(expected, float) else expected)
    assert getattr(getattr(before, section), field) != getattr(getattr(after, section), field)
    assert at.session_state.pg_run.trainer.config == after  # the trainer runs what the widgets say


def test_per_layer_activation():
    at = open_page()
    at.toggle(key="pg_per_layer").set_value(True).run()
    at.selectbox(key="pg_act_1").set_value("sigmoid").run()
    assert current_config(at).model.activation == ["tanh", "sigmoid"]


def test_play_trains_and_learning_rate_changes_live():
    at = open_page()
    at.button(key="pg_play").click().run()
    assert at.session_state.pg_run.playing
    for _ in range(3):
        at.run()
    trainer = at.session_state.pg_run.trainer
    epoch = int(metrics(at)["Epoch"].replace(",", ""))
    assert epoch > 0 and trainer.step_count > 0
    steps = trainer.step_count
    at.select_slider(key="pg_lr").set_value(0.1).run()
    assert at.session_state.pg_run.trainer is trainer          # same network, progress kept
    assert trainer.step_count >= steps
    assert trainer.optimizer.param_groups[0]["lr"] == 0.1
    at.number_input(key="pg_width_0").set_value(6).run()        # structural: asks first (it has trained)
    assert at.session_state.pg_run.trainer is trainer
    at.button(key="pg_replace").click().run()                   # a new network
    assert at.session_state.pg_run.trainer is not trainer
    assert at.session_state.pg_run.trainer.config.model.hidden[0] == 6
    at.button(key="pg_pause").click().run()                      # Pause
    assert not at.session_state.pg_run.playing


def test_step_trains_one_epoch_and_reset_starts_over():
    at = open_page()
    at.button(key="pg_step").click().run()
    assert metrics(at)["Epoch"] == "1"
    at.button(key="pg_reset").click().run()
    assert metrics(at)["Epoch"] == "0"


def test_preset_loads_its_config():
    at = open_page()
    at.selectbox(key="pg_preset").set_value("Overfit me").run()
    config = current_config(at)
    assert config.data.name == "moons" and config.model.hidden == [16, 16, 16] and config.data.noise == 0.5


def test_url_round_trip_reproduces_a_config():
    config = ExperimentConfig.from_dict({
        "data": {"name": "xor", "n_samples": 200, "noise": 0.1, "features": ["x1", "x2", "x1_x2"]},
        "model": {"hidden": [6, 3], "activation": ["relu", "tanh"], "dropout": 0.1},
        "train": {"loss": "hinge", "optimizer": "adam", "lr": 0.003, "l2": 0.001, "seed": 0}})
    at = open_page(**config.to_query())
    assert current_config(at) == config
    # the page writes the same address back
    written = {k: (v[0] if isinstance(v, list) else v) for k, v in at.query_params.items()}
    assert ExperimentConfig.from_query(written) == (config, [])


def test_a_bad_url_parameter_warns_and_only_that_field_falls_back():
    at = open_page(**{"train.lr": "fast", "model.hidden": "5,3", "data.name": "moons"})
    warnings = " ".join(w.value for w in at.warning).replace("\\", "")  # the address's text is shown escaped
    assert "train.lr='fast' is invalid" in warnings
    config = current_config(at)
    assert config.train.lr == ExperimentConfig().train.lr
    assert config.model.hidden == [5, 3] and config.data.name == "moons"


def test_impossible_setting_shows_an_error_and_keeps_the_network():
    at = open_page()
    trainer = at.session_state.pg_run.trainer
    at.multiselect(key="pg_features").set_value([]).run()
    assert not at.exception
    assert any("data.features" in e.value for e in at.error)
    assert at.session_state.pg_run.trainer is trainer


def test_regression_data_set_offers_squared_error_only():
    at = open_page()
    at.selectbox(key="pg_dataset").set_value("plane").run()
    assert not at.exception
    assert current_config(at).task == "regress2d"
    assert at.selectbox(key="pg_loss").options == ["Squared error"]


def test_a_structural_change_asks_before_discarding_a_trained_network():
    at = open_page()
    at.session_state.pg_run.trainer.run_epochs(3)
    at.selectbox(key="pg_activation").set_value("relu").run()
    assert not at.exception
    # The trained network keeps running, and the page asks.
    assert at.session_state.pg_run.trainer.epoch == 3
    assert any("needs a new network" in w.value for w in at.warning)
    # A hot change while the question stands still reaches the running network.
    at.select_slider(key="pg_lr").set_value(0.1).run()
    assert at.session_state.pg_run.trainer.config.train.lr == 0.1
    assert at.session_state.pg_run.trainer.config.model.activation == "tanh"

    # "Keep the trained one" puts the widgets back, and keeps the hot setting chosen meanwhile.
    at.button(key="pg_keep").click().run()
    assert at.selectbox(key="pg_activation").value == "tanh"
    assert at.select_slider(key="pg_lr").value == 0.1 and at.session_state.pg_run.trainer.config.train.lr == 0.1
    assert at.session_state.pg_run.trainer.epoch == 3
    assert not any("needs a new network" in w.value for w in at.warning)

    # "Start the new network" replaces it.
    at.selectbox(key="pg_activation").set_value("relu").run()
    at.button(key="pg_replace").click().run()
    assert not at.exception
    assert at.session_state.pg_run.trainer.config.model.activation == "relu"
    assert at.session_state.pg_run.trainer.epoch == 0


def test_an_untrained_network_and_a_preset_are_replaced_without_asking():
    at = open_page()
    at.selectbox(key="pg_activation").set_value("relu").run()
    assert at.session_state.pg_run.trainer.config.model.activation == "relu"
    at.session_state.pg_run.trainer.run_epochs(2)
    at.selectbox(key="pg_preset").set_value("Overfit me").run()
    assert not at.exception
    assert at.session_state.pg_run.trainer.epoch == 0
    assert not any("needs a new network" in w.value for w in at.warning)
