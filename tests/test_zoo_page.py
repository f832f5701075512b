"""The Architecture map's address: the node selected and the Hopfield network's settings go into
the address and come back from it, in plain Python and on the page (AppTest)."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

from app_pages.common.text import md_escape
from app_pages.zoo.state import KEYS, default_widgets, widgets_from_query, widgets_to_query
from engine.zoo.chart import node

PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "zoo" / "page.py")


def test_the_address_round_trips_the_defaults_and_every_node():
    defaults = default_widgets()
    assert widgets_to_query(defaults, 0) == {"train.seed": "0"}  # a plain visit: a short address
    setups = [{**defaults, "zoo_node": key} for key in KEYS]
    setups.append({**defaults, "zoo_node": "HN", "zoo_hn_digit": 7, "zoo_hn_noise": 0.45, "zoo_hn_rule": "hebbian",
                   "zoo_hn_seed": 9999})
    for values in setups:
        query = widgets_to_query(values, 4)
        restored, problems = widgets_from_query(query)
        assert not problems and {**defaults, **restored} == values, query
    assert widgets_to_query(setups[KEYS.index("LSTM")], 4) == {"node": "LSTM", "train.seed": "4"}


def test_bad_address_parameters_are_each_named_and_the_others_apply():
    values, problems = widgets_from_query({"node": "lstm", "hopfield.digit": "5", "hopfield.flipped": "0.6",
                                           "hopfield.rule": "hebbian", "hopfield.seed": "-1"})
    assert values == {"zoo_node": "LSTM", "zoo_hn_rule": "hebbian"}  # a node's name in any case
    assert problems == ["hopfield.digit='5' was ignored: not one of 0, 1, 2, 3, 4, 7",
                        "hopfield.flipped='0.6' was ignored: a number from 0 to 0.5 in steps of 0.05",
                        "hopfield.seed='-1' was ignored: a whole number from 0 to 10000"]
    assert widgets_from_query({"node": "Transformer"})[1] == [
        "node='Transformer' was ignored: not one of " + ", ".join(KEYS)]


def test_a_shared_address_opens_its_node_and_the_address_follows_the_widgets():
    at = AppTest.from_file(PAGE, default_timeout=120)
    at.query_params.update({"node": "GRU", "hopfield.digit": "3", "hopfield.rule": "pseudo", "train.seed": "8"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert [w.value for w in at.warning] == [
        "The address: " + md_escape("hopfield.rule='pseudo' was ignored: not one of projection, hebbian") + "."]
    assert at.selectbox(key="zoo_node").value == "GRU" and at.selectbox(key="zoo_hn_digit").value == 3
    assert any(md.value.startswith(f"### {node('GRU').name}\n") for md in at.markdown)
    assert at.query_params == {"node": "GRU", "hopfield.digit": "3", "train.seed": "8"}
    at.selectbox(key="zoo_node").set_value("RBF").run()  # the default again: left out
    assert at.query_params == {"hopfield.digit": "3", "train.seed": "8"} and not at.warning
    at.slider(key="zoo_hn_noise").set_value(0.35).run()
    assert at.query_params["hopfield.flipped"] == "0.35"
