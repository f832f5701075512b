"""Any config the engine accepts opens on the Playground without an exception: through the
address, an uploaded config file or a checkpoint. The widgets take its values, or the page
says in one line which value it cannot show and what it uses instead; hostile files get a
one-line message and leave the network on screen as it was."""
from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from app_pages.common.shell import seed_from_address
from app_pages.playground.state import MAX_LAYERS, MAX_NEURONS, config_from_widgets, widgets_for
from engine import ExperimentConfig, Trainer
from engine.core.registries import ACTIVATIONS, INITS, NORMS, OPTIMIZERS
from engine.mlp.config import CLASSIFY_SETS, FEATURES, REGRESS_SETS

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "playground" / "page.py")


def open_page(**query) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=90)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def shown_config(at: AppTest) -> ExperimentConfig:
    return config_from_widgets(at.session_state)


def messages(at: AppTest) -> str:
    """The page's messages as the reader sees them (user text in them is escaped Markdown)."""
    return re.sub(r"\\(.)", r"\1", "\n".join(e.value for e in [*at.error, *at.warning, *at.success]))


# ---------- the engine's own domain, drawn by hypothesis ----------
def _hidden():
    return st.lists(st.integers(1, 512), max_size=12)


@st.composite
def valid_configs(draw) -> ExperimentConfig:
    task = draw(st.sampled_from(["classify2d", "regress2d"]))
    sets = [n for n in (CLASSIFY_SETS if task == "classify2d" else REGRESS_SETS) if n != "custom"]
    hidden = draw(_hidden())
    per_layer = draw(st.booleans()) and hidden
    activation = ([draw(st.sampled_from(list(ACTIVATIONS))) for _ in hidden] if per_layer
                  else draw(st.sampled_from(list(ACTIVATIONS))))
    norm = draw(st.sampled_from(list(NORMS)))
    d = {
        "task": task,
        "data": {"name": draw(st.sampled_from(sets)), "n_samples": draw(st.integers(10, 20_000)),
                 "noise": draw(st.floats(0, 0.5)), "test_fraction": draw(st.floats(0, 0.9)),
                 "features": draw(st.lists(st.sampled_from(FEATURES), min_size=1, max_size=7, unique=True)),
                 "n_classes": draw(st.integers(2, 8))},
        "model": {"hidden": hidden, "activation": activation, "residual": draw(st.booleans()), "norm": norm,
                  "dropout": draw(st.floats(0, 0.9)), "init": draw(st.sampled_from(list(INITS)))},
        "train": {"loss": draw(st.sampled_from(["bce", "ce", "mse", "hinge"])) if task == "classify2d" else "mse",
                  "optimizer": draw(st.sampled_from(list(OPTIMIZERS))), "lr": draw(st.floats(1e-6, 10)),
                  "momentum": draw(st.floats(0, 0.999)),
                  "batch_size": draw(st.integers(2 if norm == "batch" else 1, 4096)),
                  "l1": draw(st.floats(0, 10)), "l2": draw(st.floats(0, 10)), "seed": draw(st.integers(0, 2**31 - 1)),
                  "max_epochs": draw(st.integers(0, 1_000_000)), "clip_grad_norm": draw(st.floats(0, 1e6))},
    }
    return ExperimentConfig.from_dict(d)


@settings(max_examples=300, deadline=None)
@given(valid_configs())
def test_every_valid_config_is_shown_or_its_differences_named(config):
    values, notes = widgets_for(config)
    shown = config_from_widgets(values)  # always a config the engine accepts
    for section in ("data", "model", "train"):
        for name, value in config.to_dict()[section].items():
            if shown.to_dict()[section][name] != value:
                assert any(n.startswith(f"{section}.{name} = ") for n in notes), (section, name)
    assert len(values["pg_features"]) >= 1 and values["pg_layers"] <= MAX_LAYERS
    # what the Playground can show exactly, it shows exactly
    assert shown.train == config.train and shown.data.n_samples == config.data.n_samples
    if len(config.model.hidden) <= MAX_LAYERS and max(config.model.hidden, default=1) <= MAX_NEURONS:
        assert shown.model == config.model


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_configs())
def test_a_valid_config_opens_through_the_address_and_the_upload(config):
    at = open_page(**config.to_query())
    assert shown_config(at).train == config.train
    at.file_uploader(key="pg_config_upload").upload("mine.json", config.to_json().encode(), "application/json").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Loaded the config from mine.json" in messages(at)
    assert shown_config(at).train == config.train


# ---------- the addresses and files a user found ----------
def test_a_batch_size_above_the_old_slider_opens_as_it_is():
    at = open_page(**{"task": "classify2d", "data.name": "circle", "train.batch_size": "200", "train.seed": "0"})
    assert at.select_slider(key="pg_batch").value == 200 and shown_config(at).train.batch_size == 200


@pytest.mark.parametrize("points", ["20000", "30"])
def test_any_number_of_points_the_engine_takes_opens(points):
    at = open_page(**{"data.n_samples": points})
    assert shown_config(at).data.n_samples == int(points)


@pytest.mark.parametrize("seed", ["²", "9" * 5000, "-3", "12.5", str(2**31)])
def test_a_seed_that_is_not_a_seed_is_named_and_zero_is_used(seed):
    assert seed_from_address(seed) is None
    at = open_page(**{"train.seed": seed, "data.name": "xor"})
    assert at.session_state.global_seed == 0 and shown_config(at).data.name == "xor"
    assert seed_from_address("2147483647") == 2**31 - 1 and seed_from_address(" 42 ") == 42


def test_the_seed_warning_is_shown_through_the_router():
    at = AppTest.from_file(str(Path(PAGE).parents[2] / "app.py"), default_timeout=90)
    at.query_params["train.seed"] = "²"
    at.run()
    assert not at.exception
    assert any("not a whole number" in w.value for w in at.sidebar.warning)


def _upload(at: AppTest, key: str, name: str, data: bytes) -> AppTest:
    at.file_uploader(key=key).upload(name, data, "application/octet-stream").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("text, says", [
    ("[" * 2_500_000, "nested too deeply"),
    ('{"train": {"seed": ' + "9" * 5000 + "}}", "cannot be read"),
    ("{not json", "not valid JSON"),
    ("[1, 2, 3]", "must be a JSON object"),
    ('{"model": {"hidden": [0]}}', "hidden layer width"),
])
def test_a_hostile_config_file_gets_one_line_and_keeps_the_network(text, says):
    at = open_page()
    before = shown_config(at)
    _upload(at, "pg_config_upload", "bad.json", text.encode())
    assert says in messages(at) and "is not a valid config" in messages(at)
    assert "Loaded" not in messages(at) and shown_config(at) == before


def test_a_config_larger_than_the_page_says_what_it_uses_and_keeps_its_clipping():
    config = ExperimentConfig.from_dict({"model": {"hidden": [512] * 10}, "train": {"clip_grad_norm": 3.0}})
    at = _upload(open_page(), "pg_config_upload", "big.json", config.to_json().encode())
    text = messages(at)
    assert "with changes" in text and "model.hidden" in text and "it uses [16, 16, 16, 16, 16, 16, 16, 16]" in text
    shown = shown_config(at)
    assert shown.model.hidden == [MAX_NEURONS] * MAX_LAYERS and shown.train.clip_grad_norm == 3.0


def _checkpoint(config: ExperimentConfig, steps: int = 5, poison: bool = False) -> bytes:
    trainer = Trainer(config, "cpu")
    trainer.step(steps)
    if poison:
        with torch.no_grad():
            next(trainer.model.parameters()).fill_(math.nan)
    return trainer.checkpoint_bytes()


def test_a_checkpoint_of_a_network_the_page_cannot_show_is_refused_not_discarded():
    at = open_page()
    before = shown_config(at)
    _upload(at, "pg_checkpoint_upload", "wide.pt", _checkpoint(ExperimentConfig.from_dict({"model": {"hidden": [300]}})))
    assert "Could not load wide.pt" in messages(at) and "model.hidden = [300]" in messages(at)
    assert "Loaded" not in messages(at)
    assert shown_config(at) == before and at.session_state.pg_run.trainer.config == before


def test_a_checkpoint_whose_weights_are_nan_is_refused_and_the_page_still_draws():
    at = open_page()
    _upload(at, "pg_checkpoint_upload", "nan.pt", _checkpoint(ExperimentConfig(), poison=True))
    assert "not all finite" in messages(at)
    at.button(key="pg_step").click().run()  # the network on screen still trains and draws
    assert not at.exception


def test_a_checkpoint_the_page_can_show_loads_with_its_progress():
    config = ExperimentConfig.from_dict({"data": {"n_samples": 30}, "train": {"batch_size": 200, "clip_grad_norm": 1}})
    at = _upload(open_page(), "pg_checkpoint_upload", "ok.pt", _checkpoint(config, steps=7))
    assert "Loaded the checkpoint ok.pt (step 7)" in messages(at)
    assert at.session_state.pg_run.trainer.step_count == 7 and shown_config(at) == config
    at.run()  # the next rerun keeps it: the widgets describe exactly its config
    assert at.session_state.pg_run.trainer.step_count == 7


def test_hostile_checkpoints_get_one_line():
    garbage = [b"", b"\x00" * 100, json.dumps({"a": 1}).encode()]
    buf = io.BytesIO()
    torch.save({"config": 42, "state_dict": {}}, buf)
    garbage.append(buf.getvalue())
    buf = io.BytesIO()
    torch.save({"config": ExperimentConfig().to_json(), "state_dict": {"layers.0.weight": torch.zeros(3, 3)}}, buf)
    garbage.append(buf.getvalue())  # weights of the wrong shape
    at = open_page()
    for i, data in enumerate(garbage):
        _upload(at, "pg_checkpoint_upload", f"bad{i}.pt", data)
        assert f"Could not load bad{i}.pt" in messages(at), messages(at)
