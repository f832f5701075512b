"""Any setup a page's address can carry opens on that page: Foundations, the Attention explorer, the
Architecture map and Autoencoders (the other pages' are beside their page tests). Setups are drawn by hypothesis
from the domain of each address parameter, written as a user would type them, and opened under
AppTest: no exception, and each widget shows the value asked for, or a one-line note names the
parameter the page could not use. Hostile values (a 5,000-digit number, "²", "nan", "inf", empty,
unknown names, a very long text) get a one-line note each, and the other parameters still apply."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from streamlit.testing.v1 import AppTest

from app_pages.attention import state as att
from app_pages.autoencoders import state as ae
from app_pages.foundations import state as fd
from app_pages.zoo import state as zoo
from engine.autoencoders.models import NOISE_TYPES
from engine.autoencoders.trainer import MAX_LATENT, RECON_LOSSES
from engine.core.registries import ACTIVATIONS, OPTIMIZERS
from engine.foundations.surfaces import PATH_OPTIMIZERS
from engine.zoo import hopfield

ROOT = Path(__file__).resolve().parent.parent
NOTE_LIMIT = 400  # characters of one note: a pasted novel must not fill the page
# Each example opens a page (a second or more): a failure is reported as drawn, not shrunk for minutes.
NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)


# ---------- the domain of an address parameter: (text in the address, the widget's value) ----------
def text_of(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def choice(options):
    """One of a widget's options, or of a dict {word in the address: widget value}."""
    pairs = list(options.items()) if isinstance(options, dict) else [(text_of(o), o) for o in options]
    return st.sampled_from(pairs)


def on_steps(low: float, high: float, step: float, decimals: int):
    """A slider's value: low + i·step, written as a user would (0.35, -1.3, 2)."""
    return st.integers(0, round((high - low) / step)).map(lambda i: round(low + i * step, decimals) + 0.0).map(
        lambda v: (f"{v:g}", v))


def whole(low: int, high: int, step: int = 1):
    return st.integers(0, (high - low) // step).map(lambda i: (str(low + i * step), low + i * step))


def names(options):
    """A multiselect: some names, in the order given."""
    return st.lists(st.sampled_from(list(options)), unique=True).map(
        lambda vs: (",".join(vs), vs))


def flag():
    return st.booleans().map(lambda b: (text_of(b), b))


def setups(params: dict[str, tuple[str, st.SearchStrategy]]):
    """A query drawn from `params` ({name: (widget key, domain)}), some of them left out, and the seed:
    (query {name: text}, asked {name: (key, value)})."""
    drawn = st.fixed_dictionaries({}, optional={name: domain for name, (_, domain) in params.items()})
    seed = st.integers(0, 2**31 - 1)
    return st.tuples(drawn, seed).map(lambda d: (
        {**{n: t for n, (t, _) in d[0].items()}, "train.seed": str(d[1])},
        {**{n: (params[n][0], v) for n, (_, v) in d[0].items()}, "train.seed": ("global_seed", d[1])}))


# ---------- opening a page and reading what it says ----------
def open_page(page: str, query: dict, timeout: int = 90) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app_pages" / page / "page.py"), default_timeout=timeout)
    at.query_params.update(query)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def address_notes(at: AppTest) -> list[str]:
    """The page's notes about its address, as the reader sees them (user text in them is escaped)."""
    return [re.sub(r"\\(.)", r"\1", w.value) for w in at.warning if w.value.startswith("The address: ")]


def names_of_notes(at: AppTest) -> list[str]:
    """The parameter each note names; each note is one line, of bounded length."""
    notes = address_notes(at)
    for note in notes:
        assert "\n" not in note and len(note) < NOTE_LIMIT, note
    return [re.match(r"The address: ([\w.]+)=", n).group(1) for n in notes]


def assert_shown(at: AppTest, asked: dict) -> None:
    """Each asked value ({name: (widget key, value)}) is on its widget, or a note names its
    parameter; every note names a parameter of the address."""
    named = names_of_notes(at)
    assert set(named) <= set(asked), named
    for name, (key, value) in asked.items():
        assert at.session_state[key] == value or name in named, (name, at.session_state[key], value)


def assert_hostile_named(at: AppTest, hostile: dict, others: dict) -> None:
    """One note for each hostile parameter, naming it; the other parameters ({key: value}) still apply."""
    assert sorted(names_of_notes(at)) == sorted(hostile)
    for key, value in others.items():
        assert at.session_state[key] == value, key


# ================= Foundations =================
FOUNDATIONS = {
    "tab": ("fd_tab", choice(fd.TABS)),
    **{f"neuron.{w}": (key, on_steps(-fd.WEIGHT_LIMIT, fd.WEIGHT_LIMIT, fd.WEIGHT_STEP, 1))
       for w, key in (("w1", "fd_w1"), ("w2", "fd_w2"), ("b", "fd_b"))},
    "neuron.activation": ("fd_neuron_act", choice(list(ACTIVATIONS))),
    "logistic.data": ("fd_lr_data", choice(list(fd.LINEAR_SETS))),
    "logistic.noise": ("fd_lr_noise", on_steps(0.0, fd.MAX_NOISE, fd.NOISE_STEP, 2)),
    "logistic.lr": ("fd_lr_lr", choice(fd.LEARNING_RATES)),
    "activations.shown": ("fd_acts", names(ACTIVATIONS)),
    "activations.shade": ("fd_highlight", choice(list(ACTIVATIONS))),
    "losses.l2": ("fd_l2", choice(fd.L2_RATES)),
    **{f"losses.score_{c}": (f"fd_logit_{i}", on_steps(-fd.SCORE_LIMIT, fd.SCORE_LIMIT, fd.SCORE_STEP, 1))
       for i, c in enumerate("abc")},
    "losses.data": ("fd_cmp_data", choice(list(fd.LINEAR_SETS))),
    "losses.hidden": ("fd_cmp_hidden", flag()),
    "descent.surface": ("fd_surface", choice(list(fd.SURFACE_LABELS))),
    "descent.lr": ("fd_gd_lr", choice(fd.SURFACE_LEARNING_RATES)),
    "descent.steps": ("fd_gd_steps", whole(fd.MIN_STEPS, fd.MAX_STEPS, fd.STEPS_STEP)),
    "descent.batch": ("fd_gd_batch", choice(fd.DESCENT_BATCHES)),
    "descent.optimizers": ("fd_gd_opts", names(PATH_OPTIMIZERS)),
    "descent.data": ("fd_gd_data", choice(fd.DESCENT_SETS)),
    "backprop.activation": ("fd_bp_act", choice(list(ACTIVATIONS))),
    "backprop.width": ("fd_bp_width", whole(*fd.BACKPROP_WIDTHS)),
    "backprop.batch": ("fd_bp_batch", whole(*fd.BACKPROP_BATCHES)),
    "backprop.weight": ("fd_bp_layer", choice(["hidden", "output"])),
    "backprop.neuron": ("fd_bp_row", whole(0, fd.BACKPROP_WIDTHS[1] - 1)),
    "backprop.input": ("fd_bp_col", choice(fd.BACKPROP_INPUTS)),
    "backprop.from": ("fd_bp_hidden", whole(0, fd.BACKPROP_WIDTHS[1] - 1)),
}


def foundations_conflicts(asked: dict) -> set[str]:
    """The parameters that do not fit another one: the page must name them."""
    value = {name: v for name, (_, v) in asked.items()}
    defaults = fd.default_widgets()
    width = value.get("backprop.width", defaults["fd_bp_width"])
    shown = value.get("activations.shown", defaults["fd_acts"]) or ["sigmoid"]
    return ({n for n in ("backprop.neuron", "backprop.from") if value.get(n, 0) >= width}
            | ({"activations.shade"} if value.get("activations.shade", shown[0]) not in shown else set()))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(setups(FOUNDATIONS))
def test_any_foundations_setup_opens_through_the_address(setup):
    query, asked = setup
    at = open_page("foundations", query)
    assert set(names_of_notes(at)) == foundations_conflicts(asked)
    assert_shown(at, asked)


@pytest.mark.parametrize("hostile", [
    {"neuron.w1": "9" * 5000, "logistic.noise": "nan", "losses.score_b": "inf", "descent.steps": "²"},
    {"backprop.width": "", "activations.shown": "sigmoid,unknown", "descent.surface": "x" * 20_000, "tab": "unknown",
     "losses.hidden": "yes", "logistic.lr": "-inf"}])
def test_hostile_foundations_values_are_each_named_and_the_others_apply(hostile):
    at = open_page("foundations", {**hostile, "descent.lr": "0.3", "neuron.activation": "tanh", "train.seed": "3"})
    assert_hostile_named(at, hostile, {"fd_gd_lr": 0.3, "fd_neuron_act": "tanh", "global_seed": 3})


# ================= Architecture map =================
ZOO = {
    "node": ("zoo_node", st.tuples(st.sampled_from(zoo.KEYS), st.sampled_from([str, str.lower, str.upper])).map(
        lambda kc: (kc[1](kc[0]), kc[0]))),  # a node's name in any case
    "hopfield.digit": ("zoo_hn_digit", choice(zoo.HOPFIELD_DIGITS)),
    "hopfield.flipped": ("zoo_hn_noise", on_steps(0.0, zoo.MAX_FLIPPED, zoo.FLIPPED_STEP, 2)),
    "hopfield.rule": ("zoo_hn_rule", choice(hopfield.RULES)),
    "hopfield.seed": ("zoo_hn_seed", whole(0, zoo.MAX_NOISE_SEED)),
}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(setups(ZOO))
def test_any_architecture_map_setup_opens_through_the_address(setup):
    query, asked = setup
    at = open_page("zoo", query, timeout=120)
    assert names_of_notes(at) == []
    assert_shown(at, asked)


ZOO_SETUP = {"node": ("lstm", "zoo_node", "LSTM"), "hopfield.rule": ("hebbian", "zoo_hn_rule", "hebbian"),
             "hopfield.digit": ("3", "zoo_hn_digit", 3), "hopfield.seed": ("42", "zoo_hn_seed", 42)}


@pytest.mark.parametrize("hostile", [
    {"node": "unknown", "hopfield.digit": "9" * 5000, "hopfield.flipped": "nan"},
    {"hopfield.flipped": "inf", "hopfield.seed": "²", "hopfield.rule": "", "node": "x" * 20_000}])
def test_hostile_architecture_map_values_are_each_named_and_the_others_apply(hostile):
    others = {n: setup for n, setup in ZOO_SETUP.items() if n not in hostile}
    at = open_page("zoo", {**{n: text for n, (text, _, _) in others.items()}, **hostile, "train.seed": "5"},
                   timeout=120)
    assert_hostile_named(at, hostile, {**{key: value for _, key, value in others.values()}, "global_seed": 5})


# ================= Attention explorer =================
WORDS = ["the", "cat", "sat", "on", "a", "mat", "it", "was", "tired", "because", "dog", "ran", "Paris", "!", "?",
         "café", "naïve", "2024", "x²", "##", "[SEP]", "<b>", "**bold**", "🙂"]
SENTENCE = st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join)
TOY_ROW = st.tuples(st.sampled_from(["the", "cat", "sat", "on", "mat", "a"]),
                    *[st.integers(-20, 20).map(lambda i: i / 10) for _ in range(4)])
TOY_TABLE = st.lists(TOY_ROW, min_size=2, max_size=6).map(lambda rows: (
    ";".join(",".join([t] + [f"{v:g}" for v in vs]) for t, *vs in rows),
    [{"token": t, **dict(zip(("q1", "q2", "k1", "k2"), vs))} for t, *vs in rows]))

ATTENTION = {
    "text": ("att_text", SENTENCE.map(lambda s: (s, s))),
    "pair": ("att_pair", st.one_of(st.just(""), SENTENCE).map(lambda s: (s, s))),
    "tab": ("att_tab", choice(att.TABS)),
    "layer": ("att_layer", st.integers(0, att.MODEL_LAYERS - 1).map(lambda i: (str(i + 1), i))),
    "head": ("att_head", st.one_of(st.integers(0, att.MODEL_HEADS - 1).map(lambda i: (str(i + 1), i)),
                                   st.just((att.MEAN, att.MEAN)))),
    "heads.hide_special": ("att_hide_special", flag()),
    "heads.from": ("att_from", whole(0, 15)),
    "positions.shown": ("att_positions", whole(att.POSITIONS_STEP, att.MAX_POSITIONS, att.POSITIONS_STEP)),
    "similarity.text": ("att_sentences", st.lists(SENTENCE, min_size=0, max_size=4).map(
        lambda lines: ("\n".join(lines),) * 2)),
    "toy.table": ("att_toy_table", TOY_TABLE),
    "toy.scale": ("att_scale", on_steps(0.0, att.MAX_SCALE, att.SCALE_STEP, 1)),
    "toy.query": ("att_toy_query", whole(0, 7)),
}


def attention_conflicts(at: AppTest, asked: dict) -> set[str]:
    """The parameters that do not fit another one (a toy row or a token the page does not have)."""
    value = {name: v for name, (_, v) in asked.items()}
    rows = len(value.get("toy.table", att.TOY_DEFAULT))
    tokens = at.session_state["att_cache"].run.tokens if at.session_state["att_cache"].run else []
    shown = att.shown_positions(tokens, value.get("heads.hide_special", False)) if tokens else []
    one_head = value.get("tab") == att.TABS["steps"] and value.get("head") == att.MEAN  # that tab shows one head
    return ({"toy.query"} if value.get("toy.query", 0) >= rows else set()) | (
        {"heads.from"} if "heads.from" in value and value["heads.from"] not in shown else set()) | (
        {"head"} if one_head else set())


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(setups(ATTENTION))
def test_any_attention_setup_opens_through_the_address(setup):
    query, asked = setup
    at = open_page("attention", query, timeout=180)
    assert set(names_of_notes(at)) == attention_conflicts(at, asked)
    assert at.session_state["att_cache"].key == (asked.get("text", ("", att.DEFAULT_TEXT))[1],
                                                 asked.get("pair", ("", ""))[1])  # the model read the text asked
    assert_shown(at, asked)


@pytest.mark.parametrize("hostile", [
    {"layer": "9" * 5000, "head": "²", "toy.scale": "nan", "positions.shown": "", "heads.from": "inf"},
    {"tab": "unknown", "text": "x" * 20_000, "toy.table": "a,1,2,3,nan;b,1,2,3,4", "toy.query": "-1"}])
def test_hostile_attention_values_are_each_named_and_the_others_apply(hostile):
    at = open_page("attention", {"pair": "It was late.", "heads.hide_special": "true", **hostile, "train.seed": "2"},
                   timeout=180)
    assert_hostile_named(at, hostile, {"att_pair": "It was late.", "att_hide_special": True, "global_seed": 2})


def test_the_mean_of_the_heads_on_the_step_by_step_tab_is_named_and_head_1_shown():
    """That tab computes one head at a time: a hand-made link asking it for the mean gets a note."""
    at = open_page("attention", {"tab": "steps", "head": "mean", "layer": "2"}, timeout=180)
    assert names_of_notes(at) == ["head"] and "it shows head 1" in address_notes(at)[0]
    assert (at.session_state["att_head"], at.session_state["att_layer"]) == (0, 1)


# ================= Autoencoders =================
AUTOENCODERS = {
    "preset": ("ae_preset", choice(ae.PRESET_WORDS)), "model": ("ae_model", choice(list(ae.MODEL_LABELS))),
    "code": ("ae_latent", whole(1, MAX_LATENT)), "width": ("ae_hidden", choice(ae.HIDDEN_WIDTHS)),
    "depth": ("ae_depth", choice(ae.DEPTHS)), "activation": ("ae_activation", choice(list(ACTIVATIONS))),
    "loss": ("ae_recon", choice(list(RECON_LOSSES))), "beta": ("ae_beta", choice(ae.BETAS)),
    "reparam": ("ae_reparam", flag()), "sparsity": ("ae_sparsity", choice(ae.SPARSITY_WEIGHTS)),
    "noise": ("ae_noise", choice(list(NOISE_TYPES))), "noise_level": ("ae_noise_level", choice(ae.NOISE_LEVELS)),
    "optimizer": ("ae_optimizer", choice(list(OPTIMIZERS))), "lr": ("ae_lr", choice(ae.LEARNING_RATES)),
    "batch": ("ae_batch", choice(ae.BATCH_SIZES)),
}


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=NO_SHRINK)
@given(setups(AUTOENCODERS))
def test_any_autoencoders_setup_opens_through_the_address(setup):
    query, asked = setup
    at = open_page("autoencoders", query, timeout=120)
    assert names_of_notes(at) == []
    assert_shown(at, asked)
    # The widgets build the network, or one line says which combination the engine refuses.
    assert "ae_run" in at.session_state
    assert all(e.value.startswith("This setting is not possible") for e in at.error)


@pytest.mark.parametrize("hostile", [
    {"code": "9" * 5000, "beta": "nan", "lr": "inf", "batch": "²"},
    {"preset": "x" * 20_000, "model": "", "reparam": "yes", "noise_level": "-inf", "width": "1e3"}])
def test_hostile_autoencoders_values_are_each_named_and_the_others_apply(hostile):
    at = open_page("autoencoders", {**hostile, "activation": "tanh", "depth": "2", "train.seed": "4"}, timeout=120)
    assert_hostile_named(at, hostile, {"ae_activation": "tanh", "ae_depth": 2, "global_seed": 4})
