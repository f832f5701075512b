"""The shared address code (app_pages/common/address.py): how each kind of parameter is read and
written, what the address leaves out, how bad values are reported; and that every page's list
of parameters is well formed."""
import importlib
import re

import pytest

from app_pages.common.address import (SEED, Param, flag, format_value, list_of, number, one_of, read_address_once,
                                      whole_number, widgets_from_query, widgets_to_query, write_address)

PAGES = ["vanishing", "autoencoders", "gan", "sequence", "foundations", "zoo"]


def read(param: Param, text: str):
    values, problems = widgets_from_query([param], {param.name: text})
    return values.get(param.key), problems


def test_values_are_written_short():
    assert [format_value(v) for v in (True, False, 0.003, 0.1 + 0.2, 1.0, 0.0001, 12, "tanh", ["a", "b"], [])] == [
        "true", "false", "0.003", "0.3", "1", "0.0001", "12", "tanh", "a,b", ""]


def test_one_of_matches_the_options_and_names_them_otherwise():
    lr = one_of("lr", "k", [0.0001, 0.1, 1.0], float)
    assert read(lr, "0.1") == (0.1, []) and read(lr, "1") == (1.0, []) and read(lr, "1e-4") == (0.0001, [])
    assert read(lr, "0.2") == (None, ["lr='0.2' was ignored: not one of 0.0001, 0.1, 1"])
    assert read(lr, "fast")[1] == ["lr='fast' was ignored: not one of 0.0001, 0.1, 1"]
    width = one_of("width", "k", [8, 16], int)
    assert read(width, " 16 ") == (16, []) and read(width, "16.0")[0] is None  # a width is written as a whole number
    game = one_of("game", "k", {"plane": "2-D game", "digits": "Digits"})  # address words for unreadable options
    assert read(game, "digits") == ("Digits", []) and game.format("2-D game") == "plane"
    assert read(game, "Digits")[1] == ["game='Digits' was ignored: not one of plane, digits"]


def test_numbers_flags_and_lists():
    w = number("w", "k", -5.0, 5.0, 0.1)
    assert read(w, "-2.3") == (-2.3, []) and read(w, "5") == (5.0, []) and read(w, "-0") == (0.0, [])
    for bad in ("5.1", "0.25", "nan", "inf", "1,5", ""):
        assert read(w, bad) == (None, [f"w={bad!r} was ignored: a number from -5 to 5 in steps of 0.1"])
    assert read(number("p", "k", 0.0, 0.5, 0.05), "0.35") == (0.35, [])
    steps = whole_number("steps", "k", 10, 400, 10)
    assert read(steps, "390") == (390, []) and read(steps, "95")[1] == [
        "steps='95' was ignored: a whole number from 10 to 400 in steps of 10"]
    depth = whole_number("depth", "k", 1, 100)
    for bad in ("0", "101", "²", "1.0", "9" * 5000):  # "²" passes str.isdigit; 5,000 digits would make int() raise
        assert read(depth, bad)[0] is None
    assert read(flag("on", "k"), "TRUE") == (True, []) and read(flag("on", "k"), "1")[1] == [
        "on='1' was ignored: not one of true, false"]
    models = list_of("models", "k", ["rnn", "lstm", "gru"], noun="model", most=2)
    assert read(models, "gru, rnn,gru") == (["gru", "rnn"], []) and read(models, "") == ([], [])
    assert read(models, "rnn,cnn,mlp")[1] == ["models='rnn,cnn,mlp' was ignored: no model named 'cnn', 'mlp'"]
    assert read(models, "rnn,lstm,gru")[1] == ["models='rnn,lstm,gru' was ignored: at most 2 models"]
    assert models.format(["gru", "rnn"]) == "gru,rnn"


def test_the_query_holds_what_differs_and_the_seed_and_reads_back():
    params = [one_of("act", "a", ["relu", "tanh"]), whole_number("n", "n", 1, 9), flag("on", "on"),
              Param("text", "t", str, strip=False)]
    defaults = {"a": "relu", "n": 1, "on": False, "t": "hi"}
    assert widgets_to_query(params, defaults, defaults, 0) == {SEED: "0"}
    # "on" and "t" are not in the values (widgets the page did not draw): left out
    assert widgets_to_query(params, {"a": "tanh", "n": 1}, defaults, 7) == {"act": "tanh", SEED: "7"}
    values = {"a": "tanh", "n": 3, "on": True, "t": "  two spaces\n"}
    query = widgets_to_query(params, values, defaults, 2)
    assert query == {"act": "tanh", "n": "3", "on": "true", "text": "  two spaces\n", SEED: "2"}
    assert widgets_from_query(params, query) == (values, [])  # a free text keeps its spaces
    # Another page's parameters and the seed are no problem; a long bad value is cut in its sentence.
    values, problems = widgets_from_query(params, {"node": "LSTM", SEED: "3", "act": "x" * 1000})
    assert values == {} and problems == [f"act='{'x' * 200}…' was ignored: not one of relu, tanh"]


class FakeQueryParams:
    def __init__(self, **params):
        self.params, self.writes = dict(params), 0

    def to_dict(self):
        return dict(self.params)

    def from_dict(self, params):
        self.params, self.writes = dict(params), self.writes + 1


def test_the_address_is_read_on_the_first_visit_only_and_written_when_it_changes():
    params = [whole_number("n", "n", 1, 9)]
    state, query_params = {}, FakeQueryParams(n="4", m="x")
    assert read_address_once(state, query_params, "seen", lambda q: widgets_from_query(params, q)) == []
    assert state == {"n": 4, "seen": True}
    state["n"] = 5  # what the user set since is kept on the next visit
    assert read_address_once(state, FakeQueryParams(n="0"), "seen", lambda q: widgets_from_query(params, q)) == []
    assert state["n"] == 5
    assert read_address_once({}, FakeQueryParams(n="0"), "seen", lambda q: widgets_from_query(params, q)) == [
        "n='0' was ignored: a whole number from 1 to 9"]
    write_address(query_params, {"n": "5", SEED: "0"})
    write_address(query_params, {"n": "5", SEED: "0"})
    assert query_params.params == {"n": "5", SEED: "0"} and query_params.writes == 1


@pytest.mark.parametrize("page", PAGES)
def test_every_page_has_short_distinct_names_for_widgets_it_knows(page):
    state = importlib.import_module(f"app_pages.{page}.state")
    names = [p.name for p in state.URL_PARAMS]
    keys = [p.key for p in state.URL_PARAMS]
    assert len(set(names)) == len(names) and len(set(keys)) == len(keys) and SEED not in names
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z0-9_]+)?", n) and len(n) <= 24 for n in names), names
    preset_keys = {p.key for p in state.URL_PARAMS if p.name == "preset"}  # the preset box is not a setting
    assert set(keys) - preset_keys <= set(state.default_widgets()), set(keys) - set(state.default_widgets())
    # the defaults themselves are written as text the page reads back
    defaults = state.default_widgets()
    for p in state.URL_PARAMS:
        if p.key in defaults and p.name != "text":
            assert p.parse(p.format(defaults[p.key])) == defaults[p.key], p.name


def test_a_list_names_few_unknown_names_each_cut_short():
    param = list_of("models", "k", ["rnn", "lstm"], noun="model")
    with pytest.raises(ValueError) as long_name:
        param.parse("9" * 5000)
    assert len(str(long_name.value)) < 80 and str(long_name.value).endswith("…'")
    with pytest.raises(ValueError, match=r"^no model named 'a', 'b', 'c' and 2 more$"):
        param.parse("a,b,c,d,e")
