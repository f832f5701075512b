"""The architecture map's data and the forward-hook module summariser (engine/zoo/chart.py, engine/zoo/summary.py),
checked against parameter counts and shapes worked out by hand."""
import pytest
import torch
from torch import nn

from app_pages.registry import PAGES as REGISTERED
from engine.zoo.chart import BUILDERS, EDGES, HEAVY, NODES, node, node_summary, summarise

PAGES = {p.url_path for p in REGISTERED}  # the pages the app lists
OWN = ["P", "FF", "DFF", "DRN", "SVM", "RBF", "KN"]  # built from this page's engine and the core engine


def test_summary_of_a_small_network_by_hand():
    model = nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Sequential(nn.Linear(5, 4), nn.Tanh()), nn.Linear(4, 2))
    s = summarise(model, torch.zeros(7, 3))
    assert [(r["name"], r["type"], r["output_shape"], r["params"]) for r in s["rows"]] == [
        ("0", "Linear", "(7, 5)", 3 * 5 + 5), ("1", "ReLU", "(7, 5)", 0), ("2.0", "Linear", "(7, 4)", 5 * 4 + 4),
        ("2.1", "Tanh", "(7, 4)", 0), ("3", "Linear", "(7, 2)", 4 * 2 + 2)]
    assert s["total_params"] == s["trainable_params"] == 20 + 24 + 10
    assert all(not m._forward_hooks for m in model.modules())  # the hooks are gone afterwards
    assert model.training  # and the mode is restored


def test_summary_counts_a_shared_layer_once_and_frozen_weights_apart():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(4, 4)
            self.frozen = nn.Linear(4, 1)
            self.frozen.requires_grad_(False)

        def forward(self, x):
            return self.frozen(self.layer(self.layer(x)))

    s = summarise(Twice(), torch.zeros(2, 4))
    assert [r["params"] for r in s["rows"]] == [20, 0, 5]
    assert s["total_params"] == 25 and s["trainable_params"] == 20
    without_input = summarise(Twice())
    assert {r["name"] for r in without_input["rows"]} == {"layer", "frozen"}
    assert all(r["output_shape"] == "—" for r in without_input["rows"])


def test_map_data_is_consistent():
    keys = [n.key for n in NODES]
    assert len(keys) == len(set(keys)) and len(NODES) >= 25
    assert all(a in keys and b in keys for a, b in EDGES)
    for n in NODES:
        assert n.builder is None or n.builder in BUILDERS, n.key  # a named builder is registered
        assert (n.page is None) == (n.builder is None), n.key  # a node is built iff its builder is
        assert n.page is None or n.page in PAGES
    with pytest.raises(LookupError, match="does not build"):
        node_summary("CN")
    with pytest.raises(KeyError, match="no zoo node"):
        node("XYZ")


def test_built_is_read_from_the_builders():
    """The map cannot call a node built that no builder makes, nor hollow one that a page trains:
    every autoencoder the Autoencoders page trains that has a node on the chart is built there."""
    from engine.autoencoders.models import KINDS
    on_chart = {"deep": "AE", "vae": "VAE", "denoising": "DAE", "sparse": "SAE", "conv_vae": "DCIGN"}
    assert set(on_chart) <= set(KINDS)
    for kind, key in on_chart.items():
        n = node(key)
        assert n.page == "autoencoders", key
        assert node_summary(key)["total_params"] > 0, key
    assert BUILDERS["sparse_autoencoder"].page == node("SAE").page
    assert all(b.page in PAGES for b in BUILDERS.values())


@pytest.mark.parametrize("key, total", [("P", 3), ("FF", 2 * 8 + 8 + 8 + 1), ("RBF", 12 * 2 + 12 + 12 + 1),
                                        ("KN", 8 * 8 * 2)])
def test_own_nodes_summarise_the_module_the_app_builds(key, total):
    s = node_summary(key)
    assert s["total_params"] == total == sum(r["params"] for r in s["rows"])


def test_every_light_builder_runs():
    for n in NODES:
        if n.builder and n.builder not in HEAVY:
            s = node_summary(n.key)
            assert s["total_params"] == sum(r["params"] for r in s["rows"]) > 0, n.key
            if n.key in OWN:
                assert all(r["output_shape"] != "—" for r in s["rows"]), n.key


# ---------------- the page (AppTest) ----------------
def _open_zoo():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "app_pages" / "zoo" / "page.py"), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_zoo_page_shows_the_map_and_the_module_of_a_built_node():
    at = _open_zoo()
    assert len(at.get("plotly_chart")) == 3  # the map, the Hopfield states and their energy
    m = {x.label: x.value for x in at.metric}
    assert m["Parameters"] == f"{12 * 2 + 12 + 12 + 1:,}"  # the default node: the RBF network
    table = at.dataframe[0].value
    assert int(table["parameters"].sum()) == 49 and "(1, 1)" in set(table["output shape"])
    at.selectbox(key="zoo_node").set_value("FF").run()
    table = at.dataframe[0].value
    assert list(table["type"])[0] == "Linear" and list(table["type"])[-1] == "Linear"
    assert list(table["parameters"])[0] == 2 * 8 + 8 and list(table["parameters"])[-1] == 8 + 1
    # Without st.navigation (AppTest runs the page alone) the link falls back to the url path.
    assert any("[Open the page: Playground](/playground)" in md.value for md in at.markdown)


def test_zoo_page_is_honest_about_what_it_does_not_build():
    at = _open_zoo()
    at.selectbox(key="zoo_node").set_value("CN").run()  # the capsule network: beyond the course's chart
    assert not at.exception and not at.metric
    assert any("does not build" in i.value for i in at.info)
    at.selectbox(key="zoo_node").set_value("RBM").run()  # built: its tensors listed, and how each is set
    assert not at.exception and at.metric[0].value == "4,224" and at.metric[1].value == "4,224"
    at.selectbox(key="zoo_node").set_value("BERT").run()  # heavy: loads only on request
    assert not at.exception and not at.metric and at.button(key="zoo_load_BERT")


# ---------------- Hopfield network ----------------
def test_hopfield_energy_never_rises_and_the_projection_rule_recalls_digits():
    import numpy as np

    from engine.zoo import hopfield
    patterns = hopfield.digit_patterns((0, 1, 2, 3, 4, 7))
    w = hopfield.weights(patterns, "projection")
    assert np.allclose(w, w.T) and np.all(np.diag(w) == 0)
    for k in range(len(patterns)):
        assert np.array_equal(hopfield.recall(w, patterns[k])["states"][-1], patterns[k])  # stored = fixed point
        noisy = hopfield.corrupt(patterns[k], 0.2, seed=k)
        assert int((noisy != patterns[k]).sum()) == round(0.2 * 64)
        r = hopfield.recall(w, noisy, seed=k)
        assert r["converged"] and all(b <= a + 1e-12 for a, b in zip(r["energies"], r["energies"][1:]))
        assert hopfield.nearest_pattern(patterns, r["states"][-1]) == (k, 1.0)


def test_hebbs_rule_stores_orthogonal_patterns():
    import numpy as np

    from engine.zoo import hopfield
    h = np.array([[1.0]])
    for _ in range(6):  # Sylvester's construction: 64 mutually orthogonal ±1 rows
        h = np.block([[h, h], [h, -h]])
    patterns = h[[3, 17, 40]]
    w = hopfield.weights(patterns, "hebbian")
    assert np.allclose(w, (patterns.T @ patterns / 64) - np.eye(64) * 3 / 64)  # Hebb's sum with a zero diagonal
    for p in patterns:
        assert np.array_equal(hopfield.recall(w, p)["states"][-1], p)


def test_zoo_page_recalls_a_noisy_digit():
    at = _open_zoo()
    assert any("Recalled the 0 exactly" in s.value for s in at.success)
    at.selectbox(key="zoo_hn_rule").set_value("hebbian").run()
    assert not at.exception and at.warning  # correlated digits: Hebb's rule ends in a spurious minimum
    at.selectbox(key="zoo_node").set_value("HN").run()
    assert not at.exception and any("Built on this page" in md.value for md in at.markdown)


def test_the_convolutional_nodes_open_their_own_setup():
    """DCN opens the Convolutions page's training tab, DN the GAN lab's DCGAN generator, DCIGN the
    Autoencoders page's convolutional VAE;
    each summary is the module that page trains there."""
    from engine.cnn.config import parameter_count, preset
    assert (node("DCN").page, node("DCN").query) == ("cnn", {"tab": "train"})
    assert node_summary("DCN")["total_params"] == parameter_count(preset("global_pool").model)
    assert (node("DCIGN").page, node("DCIGN").query) == ("autoencoders", {"preset": "conv-vae"})
    from app_pages.autoencoders.state import PRESET_WORDS, preset_config
    assert preset_config(PRESET_WORDS["conv-vae"]).model.kind == "conv_vae"
    from engine.gan.dcgan import parameter_counts
    from engine.gan.digits import DigitsGANConfig
    assert (node("DN").page, node("DN").query) == ("gan", {"game": "digits", "digits.arch": "dcgan"})
    assert node_summary("DN")["total_params"] == parameter_counts("dcgan", DigitsGANConfig().noise_dim,
                                                                  DigitsGANConfig().hidden)[0]


def test_the_cli_prints_the_map_and_every_node_of_the_seed_chart_is_built(capsys):
    """`python -m engine zoo`: one JSON object whose nodes say, from the registered builders, whether the app
    builds each one, the page that trains it and the engine task that does; every architecture of the course's
    chart is built, and each task named is one the CLI trains."""
    import json

    from engine.__main__ import main
    from engine.tasks import TASK_CLASSES, default_config
    from engine.zoo.chart import SEED_CHART
    assert main(["zoo"]) == 0
    data = json.loads(capsys.readouterr().out)
    nodes = {n["key"]: n for n in data["nodes"]}
    assert set(nodes) == {n.key for n in NODES} and len(SEED_CHART) == 27 and SEED_CHART <= set(nodes)
    assert data["edges"] == [list(e) for e in EDGES]
    for key, n in nodes.items():
        assert set(n) == {"key", "name", "family", "built", "page", "query", "task", "in_seed_chart"}
        assert n["built"] == (node(key).builder in BUILDERS) == (n["page"] is not None), key
        assert n["in_seed_chart"] == (key in SEED_CHART)
        if n["task"] is not None:
            assert n["task"] in TASK_CLASSES and default_config(n["task"]).task == n["task"], key
    assert [k for k in sorted(SEED_CHART) if not nodes[k]["built"]] == []
    assert {k: nodes[k]["task"] for k in ("MC", "BM", "RBM", "DBN", "ELM", "ESN", "LSM", "NTM")} == {
        "MC": "markov", "BM": "boltzmann", "RBM": "rbm", "DBN": "dbn", "ELM": "elm", "ESN": "esn", "LSM": "lsm",
        "NTM": "ntm"}


@pytest.mark.parametrize("key, expected", [
    ("MC", {"sq_view": "Markov chain baseline"}), ("BM", {"en_tab": "① Boltzmann machine"}),
    ("RBM", {"en_tab": "② RBM"}), ("DBN", {"en_tab": "③ Deep belief net"}),
    ("ELM", {"rs_tab": "① Extreme learning machine"}), ("ESN", {"rs_tab": "② Echo state network"}),
    ("LSM", {"rs_tab": "③ Liquid state machine"}), ("DN", {"gan_mode": None}), ("DCIGN", {"ae_preset": None})])
def test_a_node_opens_its_page_on_a_setup_that_page_reads_without_a_word(key, expected):
    """The address a node links to is read by its page's own address parser: no parameter is refused,
    and the tab (or preset) it names is the one the page opens."""
    import importlib

    from app_pages.common.address import widgets_from_query
    n = node(key)
    page_state = importlib.import_module(f"app_pages.{n.page}.state")
    values, problems = widgets_from_query(page_state.URL_PARAMS, dict(n.query))
    assert problems == [] and n.query, key
    for widget, value in expected.items():
        assert widget in values, (key, widget, values)
        if value is not None:
            assert values[widget] == value, key
