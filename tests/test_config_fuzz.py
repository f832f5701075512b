"""Property-based fuzzing of every task's config, through the engine and through the CLI.

Each example starts from a task's default config and breaks one to three things in it: a
field set to a value of any type (zero, negative, 10⁶, NaN, ±inf, unknown names, strings,
lists, objects, null), a list element, a whole section, or an unknown key. The engine must
either accept the config (and then round-trip it through JSON) or refuse it with a
ConfigError naming a field of the config; the CLI must answer `validate` with exit code 0
and the config, or exit code 2 and "invalid config: <field>: <what to change>". Nothing
else may happen: no other exception, no crash, no hang (each example has a deadline).

10,000 examples go through the engine and, each the same, through the CLI's entry point (in
process, so that they take a minute, not the hours 10,000 interpreter starts would).
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.__main__ import main as cli_main
from engine.core.config import ConfigError
from engine.tasks import TASK_CLASSES, config_from_dict, default_config


def _available_tasks() -> list[str]:
    tasks = []
    for task in TASK_CLASSES:
        try:
            default_config(task)
        except ModuleNotFoundError:
            continue  # a task whose module has not landed yet
        tasks.append(task)
    return tasks


# FUZZ_TASKS=classify2d,gan narrows the run to some tasks while working on them.
TASKS = [t for t in _available_tasks() if t in os.environ.get("FUZZ_TASKS", ",".join(TASK_CLASSES)).split(",")]
DEFAULTS = {task: default_config(task).to_dict() for task in TASKS}

NAMES = ["", "tanh", "relu", "sigmoid", "spiral", "circle", "custom", "adam", "sgd", "mse", "bce", "ce", "hinge",
         "lstm", "gru", "rnn", "transformer", "vae", "linear", "batch", "layer", "none", "he", "xavier",
         "minimax", "ring", "tfidf", "bow", "nope", "Tanh", "tanh ", "DROP TABLE", "💥", "null", "NaN"]

scalars = st.one_of(
    st.integers(min_value=-10**7, max_value=10**7),
    st.sampled_from([0, -1, 1, 2, 10**6, 2**31, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1e-12, 0.5, 1.5, 1e6, 1e308, math.nan, math.inf, -math.inf]),
    st.sampled_from(NAMES),
    st.text(max_size=12),
    st.booleans(),
    st.none(),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=6),
    st.lists(st.lists(scalars, max_size=4), max_size=4),
    st.dictionaries(st.sampled_from(NAMES), scalars, max_size=3),
)


def _leaf_paths(value, prefix: tuple = ()) -> list[tuple]:
    """Paths to every field, every list element and every section of a config dict."""
    paths = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            paths += _leaf_paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value[:4]):
            paths += _leaf_paths(v, prefix + (i,))
    return paths


def _set(d, path: tuple, value) -> None:
    for step in path[:-1]:
        d = d[step]
    d[path[-1]] = value


def _dotted(path: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


@st.composite
def broken_configs(draw):
    task = draw(st.sampled_from(TASKS))
    d = json.loads(json.dumps(DEFAULTS[task]))
    paths = _leaf_paths(d)
    touched = []
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["field", "field", "field", "unknown key"]))
        if kind == "field":
            path = draw(st.sampled_from(paths))
            if path == ("task",):
                continue  # the task picks the config class; a bad task is tested on its own below
            try:
                _set(d, path, draw(values))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier change removed this path
            touched.append(path)
        else:
            sections = [()] + [p for p in paths if len(p) == 1 and isinstance(d.get(p[0]), dict)]
            section = draw(st.sampled_from(sections))
            key = draw(st.sampled_from(["colour", "lr ", "Hidden", "__class__", "1"]))
            target = d
            for step in section:
                target = target[step]
            target[key] = draw(scalars)
            touched.append(section + (key,))
    return task, d, touched


def _known_field(field: str, task: str, touched: list[tuple]) -> bool:
    """The field an error names is the config itself, the task, or lies in a section the
    example changed (one broken field can make a sibling invalid, e.g. data.name = custom
    asks for data.points)."""
    if field in ("config", "task"):
        return True
    top = re.split(r"[.\[]", field, maxsplit=1)[0]
    return any(top == str(p[0]) for p in touched if p) or top in DEFAULTS[task]


FUZZ = settings(max_examples=10_000, deadline=2_000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


_CLI_DIR = Path(tempfile.mkdtemp(prefix="np-fuzz-"))


@FUZZ
@given(broken_configs())
def test_engine_and_cli_refuse_every_invalid_config_naming_its_field(example):
    task, d, touched = example
    # The engine: accepted and round-tripped, or refused naming the field.
    try:
        config = config_from_dict(json.loads(json.dumps(d)))
    except ConfigError as e:
        refused = e.field
        assert e.field and _known_field(e.field, task, touched), (e.field, str(e), touched)
        assert str(e).startswith(f"{e.field}: ") and len(str(e)) > len(e.field) + 5
    else:
        refused = None
        again = config_from_dict(json.loads(json.dumps(config.to_dict())))
        assert again.to_dict() == config.to_dict()

    # The CLI, on the same config as a file: exit 0 with the config, or 2 naming the same field.
    path = _CLI_DIR / "config.json"
    path.write_text(json.dumps(d, allow_nan=True))  # NaN / Infinity, as a hand-written file may hold
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main(["validate", str(path)])
    if refused is None:
        assert code == 0, err.getvalue()
        answer = json.loads(out.getvalue())
        assert answer["valid"] is True and answer["config"]["task"] == task
    else:
        assert code == 2, out.getvalue()
        assert err.getvalue().startswith(f"invalid config: {refused}: "), (err.getvalue(), refused)


@pytest.mark.parametrize("task", ["", "Classify2d", "poetry", None, 3, ["gan"], {"t": 1}])
def test_an_unknown_or_malformed_task_is_refused_naming_task(task):
    with pytest.raises(ConfigError) as e:
        config_from_dict({"task": task})
    assert e.value.field == "task"


@pytest.mark.parametrize("text", ["", "{", "[]", "null", "3", '"config"', "NaN", '{"task": "gan",}'])
def test_cli_refuses_text_that_is_not_a_config_object(tmp_path, text, capsys):
    path = tmp_path / "c.json"
    path.write_text(text)
    assert cli_main(["validate", str(path)]) == 2
    assert capsys.readouterr().err.startswith("invalid config: config: ")


def test_every_task_of_the_cli_is_fuzzed():
    assert {"classify2d", "regress2d"} <= set(TASKS)
