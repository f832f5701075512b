"""The Bridges page's logic, free of Streamlit: the widgets' defaults, each pair's computation
from widget values, the live self-organising map with a `tick` that trains one frame, and the
page's address."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from app_pages.common import address
from app_pages.common.address import SEED, number, one_of, whole_number
from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import train_guarded
from app_pages.common.frame_interval import FramePacer
from engine.bridges.pairs import (ALL_SETS, TWO_CLASS_SETS, bridge_dataset, logistic_bridge, rbf_bridge, svm_bridge,
                                  tree_bridge)
from engine.bridges.som import SOM_DATASETS, SOMConfig, SOMTrainer, kmeans_counterpart

TICK_SECONDS = 0.25          # the map redraws 4 times a second while it plays
FRAME_TRAIN_SECONDS = 0.1    # at most this much training per frame
C_VALUES = [0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
GAMMAS = [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]
SOM_SPEEDS = {"slow (20 points a frame)": 20, "normal (100 points a frame)": 100, "fast (500 points a frame)": 500,
              "as fast as possible": 0}

DEFAULTS = {
    # logistic regression vs one sigmoid neuron
    "br_lr_data": "gauss", "br_lr_noise": 0.3, "br_lr_C": 1.0, "br_lr_steps": 300,
    # linear SVM vs hinge neuron
    "br_svm_data": "gauss", "br_svm_noise": 0.3, "br_svm_C": 1.0, "br_svm_steps": 2000,
    # RBF-kernel SVM vs RBF network
    "br_rbf_data": "circle", "br_rbf_noise": 0.1, "br_rbf_C": 1.0, "br_rbf_gamma": 0.5, "br_rbf_centres": 10,
    "br_rbf_steps": 800,
    # decision tree vs softmax network
    "br_tree_data": "spiral", "br_tree_noise": 0.1, "br_tree_criterion": "gini", "br_tree_depth": 6,
    "br_tree_loss": "gini", "br_tree_hidden": 16, "br_tree_steps": 1500,
    # k-means vs self-organising map
    "br_som_data": "moons", "br_som_rows": 8, "br_som_cols": 8, "br_som_steps": 4000, "br_som_lr": 0.5,
    "br_som_radius": 0.0, "br_som_speed": "normal (100 points a frame)",
    # transfer learning
    "br_tr_n": 1200,
}
TAB_NAMES = ["Logistic regression ↔ neuron", "Linear SVM ↔ hinge neuron", "RBF SVM ↔ RBF network",
             "Decision tree ↔ softmax net", "k-means ↔ self-organising map", "Transfer learning"]
TRANSFER_SAMPLES = [600, 1200, 2400]   # tweets embedded once (about 300 a second on a CPU), the last third for the test
TRANSFER_SIZES = [25, 50, 100, 200, 400, 800, 1600]
N_POINTS = 300  # points of every 2-D set here; 30 % are held out for the test scores
MAX_NOISE, NOISE_STEP = 0.5, 0.05
# The sliders' (low, high, step): the page draws them from here, and the address checks against them.
LR_STEPS, SVM_STEPS, RBF_STEPS, TREE_STEPS = (10, 2000, 10), (100, 5000, 100), (50, 3000, 50), (100, 4000, 100)
RBF_UNITS, TREE_DEPTHS, SOM_SIDES = (1, 40), (1, 12), (2, 20)
TREE_CRITERIA, TREE_LOSSES = ["gini", "entropy"], ["gini", "ce"]
SOM_SCHEDULES = [500, 1000, 2000, 4000, 8000, 16000, 32000]
SOM_RATES = [0.05, 0.1, 0.2, 0.5, 0.8, 1.0]
SOM_RADII = [0.0, 1.0, 2.0, 3.0, 5.0, 8.0]   # 0: half the map
SAVE_NAME = "bridges"   # this page's entry in the session store (app_pages/common/saved_runs.py): the live map


# ---------------- the address ----------------
# The page's address holds the open pair and every pair's settings under short names, each named
# after its pair ("rbf.gamma"): only what differs from the defaults, and the seed (see
# app_pages/common/address.py). The network of the tree pair has no widget, so no name.
TABS = dict(zip(["logistic", "svm", "rbf", "tree", "som", "transfer"], TAB_NAMES))
SOM_SPEED_WORDS = dict(zip(["slow", "normal", "fast", "max"], SOM_SPEEDS))


def default_widgets() -> dict:
    """Widget key -> first value: every pair's settings and the tab open."""
    return {**DEFAULTS, "br_tab": TAB_NAMES[0]}


def _pair_data(pair: str, prefix: str, sets) -> list:
    return [one_of(f"{pair}.data", f"{prefix}_data", list(sets)),
            number(f"{pair}.noise", f"{prefix}_noise", 0.0, MAX_NOISE, NOISE_STEP)]


URL_PARAMS = [
    one_of("tab", "br_tab", TABS),
    *_pair_data("logistic", "br_lr", TWO_CLASS_SETS), one_of("logistic.c", "br_lr_C", C_VALUES, float),
    whole_number("logistic.steps", "br_lr_steps", *LR_STEPS),
    *_pair_data("svm", "br_svm", TWO_CLASS_SETS), one_of("svm.c", "br_svm_C", C_VALUES, float),
    whole_number("svm.steps", "br_svm_steps", *SVM_STEPS),
    *_pair_data("rbf", "br_rbf", ALL_SETS), one_of("rbf.c", "br_rbf_C", C_VALUES, float),
    one_of("rbf.gamma", "br_rbf_gamma", GAMMAS, float), whole_number("rbf.units", "br_rbf_centres", *RBF_UNITS),
    whole_number("rbf.steps", "br_rbf_steps", *RBF_STEPS),
    *_pair_data("tree", "br_tree", ALL_SETS), one_of("tree.criterion", "br_tree_criterion", TREE_CRITERIA),
    whole_number("tree.depth", "br_tree_depth", *TREE_DEPTHS), one_of("tree.loss", "br_tree_loss", TREE_LOSSES),
    whole_number("tree.steps", "br_tree_steps", *TREE_STEPS),
    one_of("som.data", "br_som_data", list(SOM_DATASETS)), whole_number("som.rows", "br_som_rows", *SOM_SIDES),
    whole_number("som.cols", "br_som_cols", *SOM_SIDES), one_of("som.steps", "br_som_steps", SOM_SCHEDULES, int),
    one_of("som.lr", "br_som_lr", SOM_RATES, float), one_of("som.radius", "br_som_radius", SOM_RADII, float),
    one_of("som.speed", "br_som_speed", SOM_SPEED_WORDS),
    one_of("transfer.tweets", "br_tr_n", TRANSFER_SAMPLES, int)]


def widgets_to_query(values, seed: int) -> dict[str, str]:
    """The address parameters for these widget values (those that differ from the defaults) and the seed."""
    return address.widgets_to_query(URL_PARAMS, values, default_widgets(), seed)


def widgets_from_query(query) -> tuple[dict, list[str]]:
    """Widget values from the address, and a sentence for each parameter that could not be used."""
    return address.widgets_from_query(URL_PARAMS, query)


def compute_logistic(data: str, noise: float, C: float, steps: int, seed: int) -> dict:
    ds = bridge_dataset(data, N_POINTS, noise, seed)
    return {"ds": ds, **logistic_bridge(ds, C=C, steps=steps)}


def compute_svm(data: str, noise: float, C: float, steps: int, seed: int) -> dict:
    ds = bridge_dataset(data, N_POINTS, noise, seed)
    return {"ds": ds, **svm_bridge(ds, C=C, steps=steps)}


def compute_rbf(data: str, noise: float, C: float, gamma: float, centres: int, steps: int, seed: int) -> dict:
    ds = bridge_dataset(data, N_POINTS, noise, seed)
    return {"ds": ds, **rbf_bridge(ds, C=C, gamma=gamma, n_centres=centres, steps=steps, seed=seed)}


def compute_tree(data: str, noise: float, criterion: str, depth: int, loss: str, hidden: int, steps: int,
                 seed: int) -> dict:
    ds = bridge_dataset(data, N_POINTS, noise, seed)
    return {"ds": ds, **tree_bridge(ds, criterion, depth, hidden, loss, steps, seed=seed)}


def compute_transfer(n_total: int, seed: int) -> dict:
    """The learning curves of the Transfer tab: embeds the sample with MiniLM (the slow part)."""
    from engine.bridges.pairs import embed_minilm, transfer_curve, transfer_sample
    texts, labels = transfer_sample(n_total, seed)
    vectors = embed_minilm(texts)
    n_test = n_total // 3
    return transfer_curve(texts, labels, vectors, [s for s in TRANSFER_SIZES if s <= n_total - n_test], n_test,
                          repeats=3, seed=seed)


def coefficient_rows(r: dict) -> list[dict]:
    """The table under the logistic / SVM pair: each parameter on both sides and their gap."""
    rows = []
    for i, name in enumerate(("w₁", "w₂", "b")):
        sk, adam, final = float(r["sklearn"][i]), float(r["neuron_adam"][i]), float(r["neuron"][i])
        rows.append({"parameter": name, "scikit-learn": sk, "neuron after Adam": adam,
                     "neuron, final": final, "|difference|": abs(final - sk)})
    return rows


def relative_gap(r: dict) -> float:
    """Largest |neuron - scikit-learn| over the parameters, relative to the largest |parameter|."""
    return float(np.abs(r["neuron"] - r["sklearn"]).max() / max(np.abs(r["sklearn"]).max(), 1e-12))


# The map's settings among the widgets: what a saved map restores. Its speed is a view setting, not saved.
SOM_WIDGETS = {"br_som_data": "data", "br_som_rows": "rows", "br_som_cols": "cols", "br_som_steps": "steps",
               "br_som_lr": "lr_start", "br_som_radius": "radius_start"}
SOM_TAB = TABS["som"]


def _map_part(query: dict) -> dict:
    """The parameters of an address that describe the map: its settings (not its speed) and the seed."""
    names = {p.name for p in URL_PARAMS if p.key in SOM_WIDGETS} | {SEED}
    return {name: text for name, text in query.items() if name in names}


def restored_map_widgets(config: SOMConfig, query: dict) -> dict | None:
    """The widget values that show a restored map, or None where it must not be restored: the
    address (`query`, name -> text) describes another map or seed — a shared link wins over the
    saved map — or the widgets cannot show the map. An address with nothing about the map (the
    navigation menu, a bookmark of the page) or with the parameters the page wrote for this very
    map (a reload) restores it; the address's other pairs' settings apply either way, as they are
    not part of the saved map. The map's tab opens unless the address names another."""
    values = {key: getattr(config, name) for key, name in SOM_WIDGETS.items()}
    own = widgets_to_query({**default_widgets(), **values}, config.seed)
    if som_config_from_widgets(values, config.seed) != config or widgets_from_query(own)[1]:
        return None  # settings that no widget offers (only a map not made by this page has them)
    asked = _map_part(query)
    if asked and asked != _map_part(own):
        return None
    return values if "tab" in query else {**values, "br_tab": SOM_TAB}


def som_config_from_widgets(state, seed: int) -> SOMConfig:
    """Raises ConfigError naming the field when the widgets describe an impossible map."""
    return SOMConfig(data=state["br_som_data"], n_samples=500, noise=0.1, rows=int(state["br_som_rows"]),
                     cols=int(state["br_som_cols"]), steps=int(state["br_som_steps"]), lr_start=float(state["br_som_lr"]),
                     lr_end=min(0.01, float(state["br_som_lr"])), radius_start=float(state["br_som_radius"]),
                     seed=int(seed))


@dataclass
class SOMRun:
    """What the page keeps for the live map: the trainer, its k-means counterpart, Play state."""
    trainer: SOMTrainer
    kmeans: dict
    points_per_frame: int = 100   # 0 = as many as fit in the frame's time budget
    playing: bool = False
    message: str = ""
    frames: int = field(default=0, repr=False)
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=TICK_SECONDS, max_train=FRAME_TRAIN_SECONDS),
                             repr=False)
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)

    @classmethod
    def build(cls, config: SOMConfig, points_per_frame: int = 100) -> "SOMRun":
        return cls.around(SOMTrainer(config), points_per_frame)

    @classmethod
    def around(cls, trainer: SOMTrainer, points_per_frame: int = 100) -> "SOMRun":
        """The run of a map, new or restored. k-means is fitted here on the map's points: a fitted
        scikit-learn model is not tensors and plain data, so no checkpoint holds it; the fit is a
        pure function of the points, the number of units and the seed (random_state), so a
        restored map gets the very centres the saved one was drawn with."""
        km = kmeans_counterpart(trainer.x_np, trainer.config.rows * trainer.config.cols, seed=trainer.config.seed)
        km.pop("model")
        return cls(trainer, km, points_per_frame)

    @property
    def config(self) -> SOMConfig:
        return self.trainer.config

    def tick(self, budget_s: float | None = None) -> None:
        """One frame: if playing, present the frame's share of points (within the time budget: by
        default what the frame's pace leaves after the drawing); at the end of the schedule the map
        stops by itself and says so."""
        if not self.playing:
            return
        budget_s = self.pace.training_budget() if budget_s is None else budget_s
        t = self.trainer
        left = max(0, t.config.steps - t.step_count)
        n = left if self.points_per_frame == 0 else min(self.points_per_frame, left)
        if n and not train_guarded(self, lambda: t.train_for(budget_s, max_steps=n)):
            self.pace.stop()
            return
        self.frames += 1
        self._after()

    def step(self, n: int = 100) -> None:
        if train_guarded(self, lambda: self.trainer.step(n)):
            self._after()
        else:
            self.pace.stop()

    def autosave(self, save, now: float | None = None) -> bool:
        """Hand save() the map's checkpoint when one is due (common/autosave.py). True if it saved."""
        return self._autosave.save_if_due(self.trainer, self.playing, save, now)

    def _after(self) -> None:
        t = self.trainer
        if t.diverged or t.finished:
            self.pace.stop()
        if t.diverged:
            self.playing = False
            self.message = "The prototypes became NaN; the map stopped. Lower the learning rate."
        elif t.finished and self.playing:
            self.playing = False
            self.message = (f"The schedule is over after {t.step_count:,} points: the radius is down to "
                            f"{t.schedule()[1]:.2f} and the map has settled. ↺ Reset to watch it unfold again.")

    def play(self) -> None:
        if self.trainer.finished:
            self.message = "The schedule is over: ↺ Reset starts a new map, or raise the number of steps."
            return
        self.message = ""
        self.playing = True
        self.pace.restart()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()


def som_story(run: SOMRun) -> str:
    """A sentence on what the map is doing now, with its numbers."""
    t = run.trainer
    lr, radius = t.schedule()
    qe = t.history[-1]["quantisation_error"]
    km = run.kmeans["quantisation_error"]
    phase = ("the neighbourhood is wide, so the whole map moves as one sheet and unfolds over the data"
             if radius > 2 else "the neighbourhood is narrow: each unit now moves almost alone, as a k-means "
             "centre does" if radius < 1 else "the neighbourhood shrinks and the map spreads out")
    return (f"Step {t.step_count:,} of {t.config.steps:,}: learning rate {lr:.3f}, radius {radius:.2f} grid units — "
            f"{phase}. Quantisation error {qe:.3f} against k-means' {km:.3f} with as many centres; the map keeps "
            f"neighbouring units close in the data too (topographic error {t.history[-1]['topographic_error']:.1%}).")


__all__ = ["ALL_SETS", "TWO_CLASS_SETS", "SOM_DATASETS", "DEFAULTS", "SOMRun"]
