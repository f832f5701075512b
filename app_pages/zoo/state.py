"""The Architecture map's plain logic, free of Streamlit so it is unit-tested as plain Python:
its widgets' first values and its address (the node selected, the Hopfield network's settings)."""
from __future__ import annotations

from app_pages.common import address
from app_pages.common.address import number, one_of, whole_number
from engine.zoo import hopfield
from engine.zoo.chart import NODES

KEYS = [n.key for n in NODES]
HOPFIELD_DIGITS = (0, 1, 2, 3, 4, 7)  # six digits whose mean images the network stores
MAX_FLIPPED, FLIPPED_STEP = 0.5, 0.05
MAX_NOISE_SEED = 10_000


def default_widgets() -> dict:
    return {"zoo_node": "RBF", "zoo_hn_digit": HOPFIELD_DIGITS[0], "zoo_hn_noise": 0.2,
            "zoo_hn_rule": hopfield.RULES[0], "zoo_hn_seed": 0}


def _node_key(text: str) -> str:
    """The node's key whatever its case (node=lstm is LSTM); anything else as written."""
    return {k.lower(): k for k in KEYS}.get(text.lower(), text)


# The page's address holds the node selected (node=LSTM) and the Hopfield network's settings,
# under short names: only what differs from the defaults (see app_pages/common/address.py).
URL_PARAMS = [
    one_of("node", "zoo_node", KEYS, _node_key), one_of("hopfield.digit", "zoo_hn_digit", HOPFIELD_DIGITS, int),
    number("hopfield.flipped", "zoo_hn_noise", 0.0, MAX_FLIPPED, FLIPPED_STEP),
    one_of("hopfield.rule", "zoo_hn_rule", list(hopfield.RULES)),
    whole_number("hopfield.seed", "zoo_hn_seed", 0, MAX_NOISE_SEED)]


def widgets_to_query(values, seed: int) -> dict[str, str]:
    """The address parameters for these widget values (those that differ from the defaults) and the seed."""
    return address.widgets_to_query(URL_PARAMS, values, default_widgets(), seed)


def widgets_from_query(query) -> tuple[dict, list[str]]:
    """Widget values from the address, and a sentence for each parameter that could not be used."""
    return address.widgets_from_query(URL_PARAMS, query)
