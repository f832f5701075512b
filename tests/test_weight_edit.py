"""Edit a weight in the Playground: the engine writes one weight or bias and trains on from it (the fused
path and autograd agree after the edit), the diagram's edges carry what a click needs, and the page's box
sets the value the user typed."""
import math

import numpy as np
import pytest
import torch

from app_pages.playground.weight_edit import current_value, describe, target_of_click
from engine import ExperimentConfig, Trainer
from engine.mlp.trainer import MAX_TYPED_WEIGHT
from tests.test_playground_page import open_page
from viz.playground import network_figure


def _config(**train) -> ExperimentConfig:
    return ExperimentConfig.from_dict({"task": "classify2d", "data": {"name": "xor", "n_samples": 200},
                                       "model": {"hidden": [4, 3], "activation": "tanh"},
                                       "train": {"seed": 3, "optimizer": "adam", "lr": 0.03, **train}})


def test_a_typed_weight_is_written_and_training_goes_on_from_it_on_both_paths():
    fast, plain = Trainer(_config(), "cpu"), Trainer(_config(), "cpu", fast=False)
    assert fast.fast_path and not plain.fast_path
    for t in (fast, plain):
        t.step(7)
        weight, bias = float(t.weights()[1][0][2, 1]), float(t.weights()[2][1][0])
        assert t.set_parameter(1, 2, 1, 2.5) == pytest.approx(weight)
        assert t.set_parameter(2, 0, None, -0.75) == pytest.approx(bias)
    for t in (fast, plain):
        assert t.weights()[1][0][2, 1] == 2.5 and t.weights()[2][1][0] == -0.75
    # The fused path reads the edited weights: 20 more steps match autograd's from the same edit.
    a, b = fast.step(20), plain.step(20)
    for (wa, ba), (wb, bb) in zip(fast.weights(), plain.weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(ba, bb, rtol=1e-4, atol=1e-5)
    assert a.train_loss == pytest.approx(b.train_loss, rel=1e-4)
    assert fast.weights()[1][0][2, 1] != 2.5  # it trained on from the typed value


def test_the_output_follows_a_typed_bias_at_once():
    t = Trainer(_config(), "cpu")
    t.step(5)
    t.set_parameter(2, 0, None, 50.0)  # the output neuron's bias: every point scores class 1
    snap = t.snapshot(plane_resolution=10)
    assert snap.train_accuracy == pytest.approx(float((t.dataset.train_y == 1).mean()))
    assert np.all(snap.plane["output"] > 0.99)


@pytest.mark.parametrize("args, words", [
    ((3, 0, 0, 1.0), "layer must be 0..2"), ((0, 4, 0, 1.0), "neuron must be 0..3"),
    ((0, 0, 2, 1.0), "input must be 0..1"), ((0, 0, None, math.nan), "must be a number"),
    ((0, 0, None, math.inf), "must be a number"), ((0, 0, 0, MAX_TYPED_WEIGHT * 2), "from -1000 to 1000"),
    ((0, 0, 0, True), "must be a number"),
])
def test_an_impossible_edit_is_refused_naming_what_and_changes_nothing(args, words):
    t = Trainer(_config(), "cpu")
    before = [w.copy() for w, _ in t.weights()]
    with pytest.raises(ValueError, match=words):
        t.set_parameter(*args)
    assert all(np.array_equal(w, b) for (w, _), b in zip(t.weights(), before))


def test_the_diagram_edges_carry_their_layer_neuron_and_input_for_a_click():
    t = Trainer(_config(), "cpu")
    weights = [w for w, _ in t.weights()]
    maps = [np.zeros((2, 4, 4)), [np.zeros((4, 4, 4)), np.zeros((3, 4, 4))]]
    fig = network_figure(["x1", "x2"], maps[0], maps[1], weights)
    edges = next(trace for trace in fig.data if trace.name == "weights")
    assert len(edges.customdata) == sum(w.size for w in weights)
    for data, text in zip(edges.customdata, edges.text):
        _, layer, row, column = data
        assert f"w = {weights[layer][row, column]:+.3f}" in text  # the hover names the very weight a click edits
        assert current_value(t.weights(), target_of_click(data)[1]) == pytest.approx(weights[layer][row, column])
    assert target_of_click(["w", 1, 2, 0]) == (None, (1, 2, 0))
    assert target_of_click([2, 1]) == ((2, 1), (1, 1, None))  # a neuron: enlarge it, edit its bias
    assert target_of_click([0, 1]) == ((0, 1), None)          # an input has no bias
    assert describe((1, 2, 0), 2) == "weight hidden1[0] → hidden2[2]"
    assert describe((2, 0, None), 2) == "bias of output[0]"
    assert current_value(t.weights(), (5, 0, 0)) is None  # a network since rebuilt smaller


def test_the_page_box_sets_the_typed_weight_and_says_what_it_was():
    at = open_page()
    run = at.session_state.pg_run
    old = float(run.trainer.weights()[0][0][1, 0])
    at.session_state.pg_edit_target = (0, 1, 0)
    at.run()
    assert any("Edit the weight input[0] → hidden1[1]" in md.value for md in at.markdown)
    box = next(n for n in at.number_input if n.key == "pg_edit_value_0_1_0")
    assert box.value == pytest.approx(round(old, 3))
    box.set_value(-3.25)
    next(b for b in at.button if b.label == "Set").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert float(at.session_state.pg_run.trainer.weights()[0][0][1, 0]) == -3.25
    assert any(f"was {old:+.3f}; now -3.250" in c.value for c in at.caption)
    with torch.no_grad():  # what the diagram and the boundary are drawn from
        assert float(at.session_state.pg_run.trainer.model.named_linears()[0][1].weight[1, 0]) == -3.25
