"""A page's setup in its address (the URL's query parameters), so that a copied link opens the
same setup in another browser. Free of Streamlit: tested as plain Python.

A page lists its parameters: each a `Param` (the short name in the address, the widget's
session-state key, how the address text is read and how a value is written back).
`widgets_to_query` keeps only the widgets that differ from the page's defaults, so that a plain
visit has a short address, and always adds the seed as `train.seed`, the name the sidebar reads on
every page (shell.ensure_global_seed). `widgets_from_query` reads the parameters back, with one
sentence for each it cannot use: that widget keeps its default and the others still apply, so a
link that a newer page no longer fully understands still opens most of its setup.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable

SEED = "train.seed"
SHOWN_CHARACTERS = 200  # of a bad value, quoted in its problem: a pasted novel must not fill the page


def format_value(value) -> str:
    """How a widget value is written in the address: true/false, 0.003 (not 0.0030000001), a,b."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class Param:
    """One address parameter."""
    name: str                                   # in the address: short and readable ("lr", "g.width")
    key: str                                    # the widget's key in st.session_state
    parse: Callable[[str], Any]                 # address text -> widget value; ValueError says what is allowed
    format: Callable[[Any], str] = format_value  # widget value -> address text; parse(format(v)) == v
    strip: bool = True                          # spaces around the text are dropped, but for a free text


def _matches(value, choice) -> bool:
    # 0.1 typed by hand equals the option 0.1 even if the option was computed as 0.1000000001
    if isinstance(choice, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return math.isclose(value, choice)
    return value == choice


def one_of(name: str, key: str, choices, parse: Callable[[str], Any] = str) -> Param:
    """A value among `choices`: a list of the widget's options (the text parsed with `parse`, then
    matched), or a dict {address text: widget value} where the widget's options are not readable
    in an address ("2-D game" as "plane")."""
    if isinstance(choices, dict):
        by_text, texts = dict(choices), {v: t for t, v in choices.items()}
        shown = ", ".join(by_text)

        def parse_named(text: str):
            if text not in by_text:
                raise ValueError(f"not one of {shown}")
            return by_text[text]
        return Param(name, key, parse_named, lambda v: texts[v])

    options = list(choices)
    shown = ", ".join(format_value(c) for c in options)

    def parse_option(text: str):
        try:
            value = parse(text)
        except ValueError:
            value = None
        for choice in options:
            if value is not None and _matches(value, choice):
                return choice
        raise ValueError(f"not one of {shown}")
    return Param(name, key, parse_option)


def flag(name: str, key: str) -> Param:
    """A toggle or checkbox: true or false."""
    def parse_flag(text: str) -> bool:
        if text.lower() not in ("true", "false"):
            raise ValueError("not one of true, false")
        return text.lower() == "true"
    return Param(name, key, parse_flag)


def whole_number(name: str, key: str, low: int, high: int, step: int = 1) -> Param:
    """A slider of whole numbers from low to high (in steps of `step` from low)."""
    allowed = f"a whole number from {low} to {high}" + (f" in steps of {step}" if step != 1 else "")

    def parse_whole(text: str) -> int:
        # ASCII digits only, and few of them: "²" passes str.isdigit but not int(), and int() of a
        # 5,000-digit text is refused by Python itself
        if not re.fullmatch(r"-?[0-9]{1,9}", text) or not low <= int(text) <= high or (int(text) - low) % step:
            raise ValueError(allowed)
        return int(text)
    return Param(name, key, parse_whole)


def number(name: str, key: str, low: float, high: float, step: float) -> Param:
    """A slider of decimal numbers from low to high in steps of `step`: a value off the steps is
    refused rather than rounded, since the link would then open something its sender did not see."""
    decimals = max(0, -math.floor(math.log10(step)) + 1)

    def parse_number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        steps = (value - low) / step if math.isfinite(value) else math.nan
        if not (low <= value <= high and math.isclose(steps, round(steps), abs_tol=1e-6)):
            raise ValueError(f"a number from {low:g} to {high:g} in steps of {step:g}")
        return round(low + round(steps) * step, decimals) + 0.0  # + 0.0: -0.0 is written 0
    return Param(name, key, parse_number)


def list_of(name: str, key: str, choices, separator: str = ",", noun: str = "option", most: int | None = None,
            most_what: str = "") -> Param:
    """A multiselect: names among `choices`, joined by `separator` (one that no name contains);
    empty means none chosen. Repeated names count once."""
    options = list(choices)

    def parse_list(text: str) -> list:
        names = list(dict.fromkeys(n.strip() for n in text.split(separator) if n.strip()))
        unknown = [n for n in names if n not in options]
        if unknown:  # each name quoted short, and at most three: a pasted novel must not fill the page
            shown = ", ".join(repr(n[:40] + "…" if len(n) > 40 else n) for n in unknown[:3])
            raise ValueError(f"no {noun} named {shown}" + (f" and {len(unknown) - 3} more" if len(unknown) > 3 else ""))
        if most is not None and len(names) > most:
            raise ValueError(f"at most {most} {most_what or noun + 's'}")
        return names
    return Param(name, key, parse_list, lambda values: separator.join(str(v) for v in values))


def widgets_to_query(params: list[Param], values, defaults: dict, seed: int) -> dict[str, str]:
    """The address parameters for these widget values: those that differ from `defaults` (a widget
    not in `values`, one the page did not draw, is left out), and the seed."""
    query = {p.name: p.format(values[p.key]) for p in params
             if p.key in values and values[p.key] != defaults.get(p.key)}
    return {**query, SEED: str(int(seed))}


def widgets_from_query(params: list[Param], query) -> tuple[dict, list[str]]:
    """Widget values from the address (`query`: name -> text), and a sentence for each parameter
    that could not be used. Parameters of no page here (another page's, the seed) are no problem."""
    values, problems = {}, []
    for p in params:
        if p.name in query:
            text = query[p.name]
            try:
                values[p.key] = p.parse(text.strip() if p.strip else text)
            except ValueError as e:
                shown = text if len(text) <= SHOWN_CHARACTERS else text[:SHOWN_CHARACTERS] + "…"
                problems.append(f"{p.name}={shown!r} was ignored: {e}")
    return values, problems


def read_address_once(state, query_params, marker: str, read: Callable[[dict], tuple[dict, list[str]]]) -> list[str]:
    """On a page's first visit in this session (its `marker` key not yet in `state`): the widget
    values the address holds, put into `state` before the widgets are drawn; returns the problems.
    Later visits keep what the user set since. `state` and `query_params` are st.session_state and
    st.query_params (any mapping-like objects in tests)."""
    if marker in state:
        return []
    values, problems = read(query_params.to_dict())
    state.update(values)
    state[marker] = True
    return problems


def write_address(query_params, query: dict[str, str]) -> None:
    """Make the address `query`, only when it changed: the address follows the widgets."""
    if query_params.to_dict() != query:
        query_params.from_dict(query)
