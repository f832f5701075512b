"""Config <-> URL query parameters, so that copying the address reproduces a run.

Keys are dotted field names ("train.lr"); lists are comma-separated; custom points are
"x1:x2:label" joined by ";". A bad parameter never discards the others: it is reported
in the warnings and that field keeps its default.

Works on any config dataclass made of a `task` field and sections (fields that are
dataclasses), whose class has `for_task(task)` (the defaults of that task, ConfigError for
an unknown one) and `replace(**sections)`; the Playground's ExperimentConfig is one.
"""
from __future__ import annotations

from dataclasses import fields, is_dataclass

from .config import ConfigError


def _sections(config) -> dict[str, type]:
    """Section name -> its dataclass, e.g. {"data": DataConfig, "model": ..., "train": ...}."""
    return {f.name: type(getattr(config, f.name)) for f in fields(config) if is_dataclass(getattr(config, f.name))}


def _encode(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if value and isinstance(value[0], list):
            return ";".join(":".join(f"{v:.4g}" for v in p) for p in value)
        return ",".join(str(v) for v in value)
    return str(value)


def config_to_query(config) -> dict[str, str]:
    default = type(config)().to_dict()
    d = config.to_dict()
    out = {"task": d["task"]}
    for section in _sections(config):
        for key, value in d[section].items():
            # Defaults are left out to keep addresses short, except the seed and the
            # data set, which a reader of the address wants to see.
            if value != default[section][key] or key in ("seed", "name"):
                out[f"{section}.{key}"] = _encode(value)
                if key == "activation" and isinstance(value, list) and len(value) < 2:
                    out[f"{section}.{key}"] += ","  # "relu," is a per-layer list, "relu" one name for all layers
    return out


def _decode(text: str, default):
    """Parse `text` into the type of `default`; raises ValueError with a readable message."""
    text = text.strip()
    if isinstance(default, bool):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise ValueError(f"expected true or false, got {text!r}")
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if isinstance(default, list):
        if not text:
            return []
        if ":" in text:  # custom points
            return [[float(v) for v in p.split(":")] for p in text.split(";") if p]
        parts = [p.strip() for p in text.split(",") if p.strip()]
        return [int(p) for p in parts] if default and isinstance(default[0], int) else parts
    return text


def _blame(base, values: dict[str, object], field_name: str) -> str:
    """The parameter behind an error on a field no parameter sets (a rule across fields,
    such as data.name=custom without data.points): the first whose removal clears that error."""
    for key in values:
        changes: dict[str, dict] = {}
        for k, value in values.items():
            if k != key:
                changes.setdefault(k.partition(".")[0], {})[k.partition(".")[2]] = value
        try:
            base.replace(**changes)
            return key
        except (ConfigError, TypeError) as e:
            if getattr(e, "field", "") != field_name:
                return key
    return next(iter(values))


def config_from_query(cls, params: dict[str, str]) -> tuple[object, list[str]]:
    """Build a config of class `cls` from query parameters. Returns (config, warnings).

    All parameters are applied together (some depend on each other, such as a
    per-layer activation list and the layer widths); each one the config refuses
    is dropped with a warning and the rest are tried again.
    """
    warnings: list[str] = []
    default_task = cls().task
    task = params.get("task", default_task)
    try:
        base = cls.for_task(task)
    except ConfigError:
        warnings.append(f"URL parameter task={task!r} is unknown; using {default_task!r}")
        base = cls.for_task(default_task)
    sections = _sections(base)
    defaults = base.to_dict()
    values: dict[str, object] = {}
    for key, text in params.items():
        if key == "task":
            continue
        section, _, name = key.partition(".")
        if section not in sections or name not in {f.name for f in fields(sections[section])}:
            warnings.append(f"URL parameter {key!r} is unknown and was ignored")
            continue
        default = defaults[section][name]
        if name == "activation":
            default = [] if "," in text else ""
        try:
            values[key] = _decode(text, default)
        except ValueError as e:
            warnings.append(f"URL parameter {key}={text!r} is invalid ({e}); using the default {_encode(defaults[section][name])!r}")
    while True:
        changes: dict[str, dict] = {}
        for key, value in values.items():
            section, _, name = key.partition(".")
            changes.setdefault(section, {})[name] = value
        try:
            return base.replace(**changes), warnings
        except (ConfigError, TypeError) as e:
            field_name = getattr(e, "field", "")
            culprit = next((k for k in values if field_name.startswith(k)), None) or _blame(base, values, field_name)
            default = defaults[culprit.split(".")[0]][culprit.split(".")[1]]
            warnings.append(f"URL parameter {culprit}={params[culprit]!r} is invalid ({e}); using the default {_encode(default)!r}")
            del values[culprit]
