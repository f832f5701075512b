"""The parts every config shares: ConfigError, JSON parsing, section and range checks.

Each lab's config is a dataclass validated on construction; these helpers raise
ConfigError naming the dotted field and what to change ("model.hidden[0]: hidden layer
width must be 1..512, got 0").
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from typing import Any


class ConfigError(ValueError):
    """An invalid config value. `field` is the dotted path, e.g. 'model.hidden[0]'."""

    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


MAX_CONFIG_CHARS = 5_000_000  # a config is a few kilobytes; 5,000 custom points about 100 KB


def parse_config_json(text: str) -> Any:
    """The JSON value of a config text. Whatever is wrong with the text is a ConfigError on
    "config" that says what: malformed JSON, brackets nested so deep that the parser gives up
    (RecursionError), a number too long to read (Python refuses integers of over 4,300 digits)."""
    if not isinstance(text, str):
        raise ConfigError("config", f"must be JSON text, got {type(text).__name__}")
    if len(text) > MAX_CONFIG_CHARS:
        raise ConfigError("config", f"{len(text):,} characters is too long for a config (at most {MAX_CONFIG_CHARS:,})")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError("config", f"not valid JSON ({e.msg} at line {e.lineno})") from None
    except RecursionError:
        raise ConfigError("config", "its brackets are nested too deeply to read; a config is at most a few "
                                    "levels deep") from None
    except ValueError as e:  # int('9' * 5000): "Exceeds the limit (4300 digits) for integer string conversion"
        raise ConfigError("config", f"a number in it cannot be read ({str(e).split(';')[0]})") from None


def _check(cond: bool, field_name: str, message: str) -> None:
    if not cond:
        raise ConfigError(field_name, message)


class JSONConfigMixin:
    """to_dict / to_json / from_json for a dataclass config whose class defines from_dict."""

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(parse_config_json(text))


def check_known_keys(raw: dict, cls: type, where: str, label: str) -> None:
    """Every key of `raw` must be a field of dataclass `cls`; the first that is not is a
    ConfigError on "<where>.<key>": "unknown key; <label> keys are <the fields, sorted>"."""
    names = {f.name for f in fields(cls)}
    for k in raw:
        _check(k in names, f"{where}.{k}", f"unknown key; {label} keys are {', '.join(sorted(names))}")


def flat_config_from_dict(cls: type, d: Any, label: str):
    """A config dataclass with no sections, built from a dict: it must be an object whose keys
    are fields of `cls`; the first unknown key (sorted) is a ConfigError on that key:
    "unknown setting; <label> has <the fields, sorted>"."""
    if not isinstance(d, dict):
        raise ConfigError("config", "must be a JSON object")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise ConfigError(unknown[0], f"unknown setting; {label} has {', '.join(sorted(known))}")
    return cls(**d)


def section_from_dict(d: dict, name: str, cls: type):
    """The section `name` of a config dict, built as `cls` (missing = all defaults); it must
    be an object whose keys are fields of `cls`."""
    raw = d.get(name, {})
    _check(isinstance(raw, dict), name, "must be an object")
    check_known_keys(raw, cls, name, name)
    return cls(**raw)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _check_range(value: Any, field_name: str, lo: float, hi: float, what: str, integer: bool = False) -> None:
    kind = "a whole number" if integer else "a number"
    _check(_is_number(value) and (not integer or float(value).is_integer()),
           field_name, f"{what} must be {kind}, got {value!r}")
    # Whole-number bounds are written out: ':g' would print the seed limit as 2.14748e+09.
    bounds = f"{int(lo)}..{int(hi)}" if integer else f"{lo:g}..{hi:g}"
    _check(math.isfinite(value) and lo <= value <= hi, field_name, f"{what} must be {bounds}, got {value!r}")
