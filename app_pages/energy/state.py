"""The Energy models page's logic, free of Streamlit so it is unit-tested as plain Python: each tab's
widgets <-> its config, the address parameters, the live run every tab keeps (a time-boxed tick, saved
as it trains), and which saved runs a new session brings back."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

from app_pages.common.address import SEED, one_of, whole_number, widgets_from_query, widgets_to_query
from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import train_guarded
from app_pages.common.frame_interval import FramePacer
from engine.energy.config import BoltzmannConfig, DBNConfig, RBMConfig
from engine.energy.data import PATTERN_SETS

TABS = {"boltzmann": "① Boltzmann machine", "rbm": "② RBM", "dbn": "③ Deep belief net"}
# Each tab's entry in the session store (app_pages/common/saved_runs.py): a tab's run is saved and
# forgotten on its own, so that Reset on one tab leaves the others' runs as they are.
SAVE_NAMES = {"boltzmann": "energy_boltzmann", "rbm": "energy_rbm", "dbn": "energy_dbn"}
RUN_NAMES = {"boltzmann": "Boltzmann machine", "rbm": "RBM", "dbn": "deep belief net"}  # in the lines shown
TICK_SECONDS = 0.25          # the live views ask for four frames a second
TRAIN_SECONDS = 0.12         # of which a frame trains at most this long, then measures and draws

LEARNING_RATES = [0.001, 0.003, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0]
MOMENTA = [0.0, 0.5, 0.9]
BM_HIDDEN = list(range(0, 13))
BM_SWEEPS = [1, 2, 5, 10]
BM_CHAINS = [10, 50, 100, 300]
BM_STEP_LIMITS = [500, 2000, 5000, 20000, 0]
RBM_HIDDEN = [16, 36, 64, 100, 144, 256]
RBM_K = [1, 3, 5, 10, 25]
RBM_BATCHES = [10, 20, 50, 100]
RBM_STEP_LIMITS = [2000, 10000, 30000, 0]
DBN_LAYERS = {"100-50": [100, 50], "100": [100], "200-100": [200, 100], "100-50-25": [100, 50, 25],
              "64-32": [64, 32]}
DBN_PRETRAIN = [300, 1000, 1500, 3000, 6000]
DBN_FINETUNE = [100, 300, 1000]
DBN_FINETUNE_LR = [0.001, 0.003, 0.01, 0.03]

# widget key -> config field, for each tab
WIDGET_FIELDS = {
    "boltzmann": {"en_bm_data": "data", "en_bm_hidden": "hidden", "en_bm_lr": "lr", "en_bm_momentum": "momentum",
                  "en_bm_sweeps": "gibbs_sweeps", "en_bm_chains": "chains", "en_bm_steps": "max_steps"},
    "rbm": {"en_rbm_hidden": "hidden", "en_rbm_k": "k", "en_rbm_persistent": "persistent", "en_rbm_lr": "lr",
            "en_rbm_momentum": "momentum", "en_rbm_batch": "batch_size", "en_rbm_steps": "max_steps"},
    "dbn": {"en_dbn_layers": "hidden", "en_dbn_pretrain": "pretrain_steps", "en_dbn_k": "k", "en_dbn_lr": "lr",
            "en_dbn_finetune": "finetune_steps", "en_dbn_finetune_lr": "finetune_lr"},
}
CONFIG_CLASSES = {"boltzmann": BoltzmannConfig, "rbm": RBMConfig, "dbn": DBNConfig}


def run_key(task: str) -> str:
    """Where a tab keeps its EnergyRun in session state."""
    return f"en_{task}_run"


def _layers_name(hidden: list[int]) -> str:
    return "-".join(str(h) for h in hidden)


def widgets_from_config(task: str, config) -> dict:
    d = config.to_dict()
    values = {key: d[name] for key, name in WIDGET_FIELDS[task].items()}
    if task == "dbn":
        values["en_dbn_layers"] = _layers_name(config.hidden)
    return values


def default_widgets() -> dict:
    values = {"en_tab": TABS["boltzmann"], "en_dream_steps": 1}
    for task, cls in CONFIG_CLASSES.items():
        values.update(widgets_from_config(task, cls()))
    return values


def config_from_widgets(task: str, state, seed: int):
    """The config a tab's widgets describe; raises ConfigError naming the field if impossible."""
    d = {name: state[key] for key, name in WIDGET_FIELDS[task].items()}
    if task == "dbn":
        d["hidden"] = list(DBN_LAYERS.get(d["hidden"], DBNConfig().hidden))
    return CONFIG_CLASSES[task].from_dict({**d, "task": task, "seed": int(seed)})


URL_PARAMS = [
    one_of("tab", "en_tab", {name: label for name, label in TABS.items()}),
    one_of("bm.data", "en_bm_data", list(PATTERN_SETS)), whole_number("bm.hidden", "en_bm_hidden", 0, 12),
    one_of("bm.lr", "en_bm_lr", LEARNING_RATES, float), one_of("bm.momentum", "en_bm_momentum", MOMENTA, float),
    one_of("bm.sweeps", "en_bm_sweeps", BM_SWEEPS, int), one_of("bm.chains", "en_bm_chains", BM_CHAINS, int),
    one_of("bm.steps", "en_bm_steps", BM_STEP_LIMITS, int),
    one_of("rbm.hidden", "en_rbm_hidden", RBM_HIDDEN, int), one_of("rbm.k", "en_rbm_k", RBM_K, int),
    one_of("rbm.persistent", "en_rbm_persistent", {"true": True, "false": False}),
    one_of("rbm.lr", "en_rbm_lr", LEARNING_RATES, float), one_of("rbm.momentum", "en_rbm_momentum", MOMENTA, float),
    one_of("rbm.batch", "en_rbm_batch", RBM_BATCHES, int), one_of("rbm.steps", "en_rbm_steps", RBM_STEP_LIMITS, int),
    one_of("dbn.layers", "en_dbn_layers", list(DBN_LAYERS)), one_of("dbn.pretrain", "en_dbn_pretrain", DBN_PRETRAIN, int),
    one_of("dbn.k", "en_dbn_k", RBM_K, int), one_of("dbn.lr", "en_dbn_lr", LEARNING_RATES, float),
    one_of("dbn.finetune", "en_dbn_finetune", DBN_FINETUNE, int),
    one_of("dbn.finetune_lr", "en_dbn_finetune_lr", DBN_FINETUNE_LR, float),
]


def restored_widgets(configs: dict, query: dict) -> dict | None:
    """The widget values (and "global_seed") that show the saved runs (`configs`: task -> its config, None
    where that tab saved nothing), or None where they must not be restored: the address (`query`, name ->
    text) describes another setup — a shared link wins over the saved runs — or a widget cannot show a
    saved config. An empty address, or the one the page wrote for this very setup (a reload), restores; so
    the address's tab and the settings of a tab with nothing saved are kept. An empty address opens the
    first tab with a saved run."""
    saved = {task: config for task, config in configs.items() if config is not None}
    if not saved:
        return None
    asked, problems = widgets_from_query(URL_PARAMS, query)
    if problems:
        return None  # not an address this page wrote
    defaults = default_widgets()
    values = {**defaults, **asked}
    if not query:  # the menu, a bookmark: the first tab with a saved run (an address left out only the default tab)
        values["en_tab"] = TABS[next(iter(saved))]
    for task, config in saved.items():
        values.update(widgets_from_config(task, config))
        if config_from_widgets(task, values, config.seed) != config:
            return None  # a setting no widget offers (a weight decay, a step limit of the CLI's)
    seed = restored_seed(saved, values["en_tab"], query.get(SEED))
    own = widgets_to_query(URL_PARAMS, values, defaults, seed)
    if widgets_from_query(URL_PARAMS, own)[1]:
        return None  # a value the address cannot hold (a learning rate no slider offers)
    return {**values, "global_seed": seed} if not query or dict(query) == own else None


def restored_seed(saved: dict, tab: str, asked: str | None) -> int:
    """The sidebar's seed for the restored runs (the seed is one for the whole page, the runs may have been
    trained with different ones): the address's, when a saved run was trained with it (the seed was changed
    while another tab's run, trained with the old one, waited); else that of the tab shown, or of the first
    saved run. A run with another seed shows as trained and asks before a new one replaces it, as before."""
    seeds = [config.seed for config in saved.values()]
    if asked in [str(seed) for seed in seeds]:
        return int(asked)
    shown = next((task for task, label in TABS.items() if label == tab), None)
    return saved[shown].seed if shown in saved else seeds[0]


def fmt(x: float | None, digits: int = 3) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{x:.{digits}g}" if x == 0 or 1e-3 <= abs(x) < 1e5 else f"{x:.1e}"


def fmt_percent(x: float | None) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.1%}"


@dataclass
class EnergyRun:
    """What a tab keeps between reruns: its trainer, whether it plays, the one line to show, the last
    snapshot (measured again only after the trainer moved) and the speed."""
    trainer: object
    playing: bool = False
    message: str = ""
    steps_per_second: float = 0.0
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=TICK_SECONDS, max_train=TRAIN_SECONDS),
                             repr=False)
    _snap: object = field(default=None, repr=False)
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)
    _saved_config: object = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._stop_if_needed()  # a restored run that had finished or diverged says so at once

    def snapshot(self):
        if self._snap is None or self._snap.step != self.trainer.step_count:
            self._snap = self.trainer.snapshot()
        return self._snap

    def tick(self, budget_s: float | None = None):
        """One frame: train() and the snapshot."""
        self.train(budget_s)
        return self.snapshot()

    def train(self, budget_s: float | None = None) -> None:
        """A frame's training: if playing, train for about budget_s (by default what the frame's pace
        leaves after measuring and drawing), stop at the end or on a divergence. The live view measures
        (snapshot) after this, as part of the frame's drawing: a slow measurement leaves less to train."""
        if not self.playing:
            return
        budget_s = self.pace.training_budget() if budget_s is None else budget_s
        start, before = time.perf_counter(), self.trainer.step_count
        if train_guarded(self, lambda: self.trainer.advance(budget_s)):
            elapsed = time.perf_counter() - start
            self.steps_per_second = (self.trainer.step_count - before) / elapsed if elapsed > 0 else 0.0
            self._stop_if_needed()
        else:
            self.pace.stop()

    def step(self, n: int):
        self.pause()
        if train_guarded(self, lambda: self.trainer.step(n)):
            self._stop_if_needed()
        return self.snapshot()

    def play(self) -> None:
        self.playing = not (self.trainer.diverged or self.trainer.finished)
        self.message = "" if self.playing else self.message
        self.pace.restart()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()

    def apply(self, config) -> list[str]:
        """Hot settings reach the running trainer; returns the fields that need a new one."""
        changed = self.trainer.apply(config)
        if not changed:
            self._snap = None
            if not self.trainer.finished and self.message.startswith(("Reached", "A weight")):
                self.message = ""
        return changed

    def autosave(self, save, now: float | None = None) -> bool:
        """Hand save() the trainer's checkpoint when one is due (common/autosave.py); True if it saved. A hot
        change (a learning rate, k) is due too: the address the page writes for it must find the saved run
        on a reload."""
        if self._saved_config is not None and self.trainer.config != self._saved_config:
            self._autosave.saved_step = -1
        saved = self._autosave.save_if_due(self.trainer, self.playing, save, now)
        if saved or self._saved_config is None:
            self._saved_config = self.trainer.config
        return saved

    def _stop_if_needed(self) -> None:
        t = self.trainer
        if t.diverged or t.finished:
            self.pace.stop()
        if t.diverged:
            self.playing = False
            self.message = ("A weight became NaN or infinite: training paused and the last finite weights were "
                            "kept. Lower the learning rate and press Play.")
        elif t.finished:
            self.playing = False
            self.message = (f"Done: every labelled count is fine-tuned, {t.step_count:,} steps in all. Reset to run "
                            "again, or change a setting." if hasattr(t, "total_steps") else
                            f"Reached the step limit ({t.step_count:,}). Raise “Stop after” to train on.")
