"""Config validation, JSON and URL-query round trips, and the structural/hot tiers."""
from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.core.config import ConfigError
from engine.mlp.config import (ACTIVATIONS, HOT_FIELDS, DataConfig, ExperimentConfig, ModelConfig, TrainConfig,
                               structural_changes)

BASE = ExperimentConfig()


def _error(**changes) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        BASE.replace(**changes)
    return info.value


# ---- validation: the error names the field and says what is allowed ----

@pytest.mark.parametrize("changes, field, allowed", [
    ({"model": {"hidden": [0]}}, "model.hidden[0]", "1..512"),
    ({"model": {"hidden": [8, 513]}}, "model.hidden[1]", "1..512"),
    ({"model": {"hidden": [4, 2.5]}}, "model.hidden[1]", "whole number"),
    ({"model": {"hidden": [4] * 101}}, "model.hidden", "at most 100"),
    ({"model": {"dropout": 0.95}}, "model.dropout", "0..0.9"),
    ({"train": {"lr": 0.0}}, "train.lr", "1e-06..10"),
    ({"train": {"lr": 11.0}}, "train.lr", "1e-06..10"),
    ({"train": {"lr": float("nan")}}, "train.lr", "1e-06..10"),
    ({"train": {"batch_size": 0}}, "train.batch_size", "1..4096"),
    ({"train": {"momentum": 1.0}}, "train.momentum", "0..0.999"),
    ({"train": {"seed": -1}}, "train.seed", "0..2147483647"),
    ({"data": {"noise": 0.6}}, "data.noise", "0..0.5"),
    ({"data": {"n_samples": 5}}, "data.n_samples", "10..20000"),
    ({"data": {"test_fraction": 0.95}}, "data.test_fraction", "0..0.9"),
    ({"data": {"n_classes": 9}}, "data.n_classes", "2..8"),
])
def test_range_errors_name_field_and_range(changes, field, allowed):
    err = _error(**changes)
    assert err.field == field
    assert allowed in str(err)
    assert str(err).startswith(field + ":")


def test_width_error_message_says_what_to_change():
    err = _error(model={"hidden": [8, 0]})
    assert err.field == "model.hidden[1]"
    assert "hidden layer width must be 1..512, got 0" in str(err)


@pytest.mark.parametrize("changes, field, bad", [
    ({"model": {"activation": "swish"}}, "model.activation", "swish"),
    ({"model": {"activation": ["tanh", "nope"]}}, "model.activation", "nope"),
    ({"train": {"loss": "huber"}}, "train.loss", "huber"),
    ({"train": {"optimizer": "lbfgs"}}, "train.optimizer", "lbfgs"),
    ({"model": {"init": "zeros"}}, "model.init", "zeros"),
    ({"model": {"norm": "group"}}, "model.norm", "group"),
    ({"data": {"name": "swiss_roll"}}, "data.name", "swiss_roll"),
    ({"data": {"features": ["x1", "cos_x1"]}}, "data.features[1]", "cos_x1"),
    ({"task": "segment"}, "task", "segment"),
])
def test_unknown_names_are_refused_with_the_choices(changes, field, bad):
    err = _error(**changes)
    assert err.field == field
    assert repr(bad) in str(err)
    assert "choose" in str(err)


def test_unknown_activation_lists_every_choice():
    msg = str(_error(model={"activation": "swish"}))
    for name in ACTIVATIONS:
        assert name in msg


def test_activation_list_must_match_depth():
    err = _error(model={"hidden": [4, 4, 4], "activation": ["tanh", "relu"]})
    assert err.field == "model.activation"
    assert "(3)" in str(err) and "got 2" in str(err)


def test_regression_refuses_bce_and_classification_sets():
    with pytest.raises(ConfigError) as info:
        ExperimentConfig(task="regress2d", data=DataConfig(name="plane"), train=TrainConfig(loss="bce"))
    assert info.value.field == "train.loss"
    assert "mse" in str(info.value)
    with pytest.raises(ConfigError) as info:
        ExperimentConfig(task="regress2d", data=DataConfig(name="spiral"), train=TrainConfig(loss="mse"))
    assert info.value.field == "data.name"
    ExperimentConfig(task="regress2d", data=DataConfig(name="plane"), train=TrainConfig(loss="mse"))  # valid


def test_cross_field_rules():
    assert _error(model={"norm": "batch"}, train={"batch_size": 1}).field == "train.batch_size"
    assert _error(data={"name": "custom"}).field == "data.points"
    one_class = [[0, 0, 1], [1, 1, 1], [2, 2, 1], [3, 3, 1]]
    assert "2 classes" in str(_error(data={"name": "custom", "points": one_class}))
    assert _error(data={"name": "custom", "points": [[0, 0, 0]] * 3 + [[1, 2]]}).field == "data.points[3]"
    assert _error(data={"features": ["x1", "x1"]}).field == "data.features"
    assert _error(data={"features": []}).field == "data.features"


def test_from_dict_and_json_refuse_unknown_keys_and_bad_json():
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_dict({"model": {"hiden": [4]}})
    assert info.value.field == "model.hiden"
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_dict({"optim": {}})
    assert info.value.field == "optim"
    with pytest.raises(ConfigError) as info:
        ExperimentConfig.from_json("{not json")
    assert info.value.field == "config"
    assert "not valid JSON" in str(info.value)


def test_bools_are_not_numbers():
    assert _error(train={"batch_size": True}).field == "train.batch_size"
    assert _error(model={"residual": 1}).field == "model.residual"


def test_n_classes():
    assert ExperimentConfig().n_classes == 2
    assert BASE.replace(data={"name": "blobs", "n_classes": 5}).n_classes == 5
    pts = [[0, 0, 0], [1, 1, 1], [2, 2, 3], [3, 3, 0]]
    assert BASE.replace(data={"name": "custom", "points": pts}).n_classes == 4
    assert ExperimentConfig(task="regress2d", data=DataConfig(name="plane"), train=TrainConfig(loss="mse")).n_classes == 0


# ---- round trips ----

NON_DEFAULT = [
    ExperimentConfig(),
    BASE.replace(model={"hidden": [3, 5, 7], "activation": ["relu", "tanh", "gelu"], "residual": True,
                        "norm": "layer", "dropout": 0.25, "init": "xavier"},
                 train={"optimizer": "adam", "lr": 0.0123, "batch_size": 32, "l1": 0.001, "l2": 0.5, "seed": 42}),
    BASE.replace(data={"name": "custom", "test_fraction": 0.25,
                       "points": [[1.5, -2.25, 0], [0.0, 3.0, 1], [-4.5, 1.125, 2], [5.75, -5.5, 1], [0.1, 0.2, 0]]},
                 train={"loss": "ce"}),
    BASE.replace(data={"name": "blobs", "n_classes": 5, "noise": 0.35, "features": ["x1_sq", "x2", "sin_x1", "x1_x2"]},
                 model={"hidden": [4], "activation": ["sigmoid"]}, train={"loss": "hinge", "max_epochs": 7}),
    ExperimentConfig(task="regress2d", data=DataConfig(name="multigauss", n_samples=300, noise=0.1),
                     model=ModelConfig(hidden=[], activation=[]), train=TrainConfig(loss="mse", optimizer="nesterov",
                                                                                     momentum=0.5)),
    BASE.replace(model={"hidden": [16, 16], "norm": "batch", "init": "orthogonal", "activation": "leaky_relu"},
                 train={"optimizer": "rmsprop", "momentum": 0.3, "batch_size": 2, "seed": 2**31 - 1}),
]


@pytest.mark.parametrize("config", NON_DEFAULT)
def test_json_round_trip(config):
    text = config.to_json()
    back = ExperimentConfig.from_json(text)
    assert back == config
    assert json.loads(text) == json.loads(back.to_json())  # plain JSON, nothing lost


@pytest.mark.parametrize("config", NON_DEFAULT)
def test_query_round_trip(config):
    query = config.to_query()
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in query.items())
    back, warnings = ExperimentConfig.from_query(query)
    assert warnings == []
    assert back == config


def test_per_layer_activation_list_of_one_stays_a_list():
    # ["relu"] and "relu" build the same model but are different configs: a URL must not
    # turn one into the other (structural_changes would then ask for a rebuild).
    config = BASE.replace(model={"hidden": [4], "activation": ["relu"]})
    back, warnings = ExperimentConfig.from_query(config.to_query())
    assert warnings == [] and back.model.activation == ["relu"]
    single = BASE.replace(model={"hidden": [4], "activation": "relu"})
    back, warnings = ExperimentConfig.from_query(single.to_query())
    assert warnings == [] and back.model.activation == "relu"


def test_query_leaves_defaults_out_but_keeps_seed_and_data_set():
    assert ExperimentConfig().to_query() == {"task": "classify2d", "data.name": "spiral", "train.seed": "0"}
    assert ExperimentConfig.from_query({}) == (ExperimentConfig(), [])


@pytest.mark.parametrize("bad_key, bad_value, default_text", [
    ("train.lr", "abc", "0.03"),
    ("model.hidden", "8,0", "8,8"),
    ("model.hidden", "8,x", "8,8"),
    ("model.residual", "maybe", "false"),
    ("data.noise", "0.9", "0.0"),
    ("train.optimizer", "lbfgs", "sgd"),
])
def test_bad_query_parameter_falls_back_for_that_field_only(bad_key, bad_value, default_text):
    params = {"data.name": "moons", "train.seed": "7", "model.activation": "relu", bad_key: bad_value}
    if bad_key != "train.lr":
        params["train.lr"] = "0.1"
    config, warnings = ExperimentConfig.from_query(params)
    assert len(warnings) == 1
    assert bad_key in warnings[0] and repr(bad_value) in warnings[0]
    assert repr(default_text) in warnings[0]
    section, _, name = bad_key.partition(".")
    assert getattr(getattr(config, section), name) == getattr(getattr(BASE, section), name)
    # every other parameter is kept
    assert config.data.name == "moons" and config.train.seed == 7 and config.model.activation == "relu"
    if bad_key != "train.lr":
        assert config.train.lr == 0.1


def test_cross_field_query_error_blames_the_right_parameter():
    # data.name=custom without points is refused on data.points, a field no parameter set:
    # the culprit is data.name, not whichever parameter came first.
    config, warnings = ExperimentConfig.from_query({"train.lr": "0.1", "data.noise": "0.2", "data.name": "custom"})
    assert len(warnings) == 1 and "data.name" in warnings[0]
    assert config.train.lr == 0.1 and config.data.noise == 0.2 and config.data.name == "spiral"
    config, warnings = ExperimentConfig.from_query({"model.norm": "batch", "train.lr": "0.5", "train.batch_size": "1"})
    assert len(warnings) == 1 and "train.batch_size" in warnings[0]
    assert config.model.norm == "batch" and config.train.lr == 0.5 and config.train.batch_size == 10


def test_unknown_query_parameters_and_task():
    config, warnings = ExperimentConfig.from_query({"train.speed": "3", "colour": "red", "train.lr": "0.2"})
    assert config.train.lr == 0.2
    assert len(warnings) == 2 and any("train.speed" in w for w in warnings) and any("colour" in w for w in warnings)
    config, warnings = ExperimentConfig.from_query({"task": "segment"})
    assert config == ExperimentConfig() and len(warnings) == 1 and "segment" in warnings[0]
    config, warnings = ExperimentConfig.from_query({"task": "regress2d"})
    assert warnings == [] and config.task == "regress2d" and config.train.loss == "mse" and config.data.name == "plane"


# ---- tiers: structural vs hot ----

def test_hot_fields_are_not_structural():
    hot_values = {"lr": 0.5, "momentum": 0.5, "l1": 0.01, "l2": 0.01, "batch_size": 3, "max_epochs": 4,
                  "clip_grad_norm": 1.0}
    assert set(hot_values) == {name for section, name in HOT_FIELDS if section == "train"}
    assert {section for section, _ in HOT_FIELDS} == {"train"}
    for name, value in hot_values.items():
        assert structural_changes(BASE, BASE.replace(train={name: value})) == [], name
    assert structural_changes(BASE, BASE.replace(train=hot_values)) == []


@pytest.mark.parametrize("changes, expected", [
    ({"model": {"hidden": [4]}}, ["model.hidden"]),
    ({"model": {"activation": "relu"}}, ["model.activation"]),
    ({"data": {"name": "xor"}}, ["data.name"]),
    ({"data": {"noise": 0.1}}, ["data.noise"]),
    ({"train": {"seed": 1}}, ["train.seed"]),
    ({"train": {"optimizer": "adam"}}, ["train.optimizer"]),
    ({"train": {"loss": "hinge", "lr": 0.2}}, ["train.loss"]),
    ({"model": {"dropout": 0.1, "norm": "layer"}, "train": {"l2": 0.1}}, ["model.norm", "model.dropout"]),
])
def test_structural_changes_lists_only_structural_fields(changes, expected):
    assert structural_changes(BASE, BASE.replace(**changes)) == expected


def test_structural_changes_task():
    reg = ExperimentConfig(task="regress2d", data=DataConfig(name="plane"), train=TrainConfig(loss="mse"))
    assert structural_changes(BASE, reg) == ["task", "data.name", "train.loss"]


# ---- property: random valid configs round-trip ----

_configs = st.builds(
    lambda hidden, acts, lr, batch, seed, per_layer: BASE.replace(
        model={"hidden": hidden, "activation": acts[:len(hidden)] if per_layer else acts[0]},
        train={"lr": lr, "batch_size": batch, "seed": seed}),
    hidden=st.lists(st.integers(1, 512), max_size=5),
    acts=st.lists(st.sampled_from(sorted(ACTIVATIONS)), min_size=5, max_size=5),
    lr=st.floats(1e-6, 10.0, allow_nan=False, allow_infinity=False),
    batch=st.integers(1, 4096),
    seed=st.integers(0, 2**31 - 1),
    per_layer=st.booleans(),
)


# derandomize: the same 200 examples on every run (seeded, like the rest of the suite); no example database
@settings(max_examples=200, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(_configs)
def test_random_valid_configs_round_trip(config):
    assert ExperimentConfig.from_json(config.to_json()) == config
    back, warnings = ExperimentConfig.from_query(config.to_query())
    assert warnings == []
    assert back == config
