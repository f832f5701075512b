"""The Reservoirs page's live runs, free of Streamlit: each tab's trainers, whether they play, and one
frame's work (tick). The fits take milliseconds, so a frame does one chunk: the ELM fits the next width
of its sweep while its MLP twin trains by backprop for the frame's budget; the ESN and the LSM drive
the next chunk of training data through their reservoirs and refit their read-outs. Each tab's run is
saved as it goes (common/autosave.py) as its trainer's checkpoint, the twin beside it carried inside."""
from __future__ import annotations

from dataclasses import dataclass, field

from app_pages.common.autosave import AutosaveClock
from app_pages.common.failures import train_guarded
from app_pages.common.frame_interval import FramePacer
from engine.mlp.trainer import Trainer
from engine.reservoirs import ELMConfig, ELMTrainer, ESNConfig, ESNTrainer, LSMConfig, LSMTrainer
from engine.reservoirs.elm import twin_config
from engine.reservoirs.lsm import twin_config as esn_twin_config

TICK_SECONDS = 0.3          # the live view asks for a frame this often
TRAIN_SECONDS = 0.12        # of which the MLP twin trains this long at most (and a Step click this long)
TWIN_EPOCHS = 300           # the twin stops here (about 6,000 steps on the default 200 training points)
PLANE_RESOLUTION = 50


@dataclass
class LiveRun:
    """What every tab's run shares: the config it was built for, playing, the message of a stop."""
    config: object
    playing: bool = False
    message: str = ""
    pace: FramePacer = field(default_factory=lambda: FramePacer(tick=TICK_SECONDS, max_train=TRAIN_SECONDS),
                             repr=False)
    _autosave: AutosaveClock = field(default_factory=AutosaveClock, repr=False)

    def play(self) -> None:
        self.playing = not self.finished
        self.message = ""
        self.pace.restart()

    def pause(self) -> None:
        self.playing = False
        self.pace.stop()

    def tick(self, budget_s: float | None = None) -> None:
        """One frame: a chunk if playing (what trains by the clock, the ELM's MLP twin, trains for budget_s:
        by default what the frame's pace leaves after the drawing); stops by itself at the end."""
        if not self.playing:
            return
        budget_s = self.pace.training_budget() if budget_s is None else budget_s
        if not train_guarded(self, lambda: self.advance(budget_s)) or self.finished:
            self.pause()

    def step(self) -> None:
        self.pause()
        train_guarded(self, lambda: self.advance(TRAIN_SECONDS))

    def advance(self, budget_s: float) -> None:
        """One chunk of training; budget_s for what trains by the clock."""
        raise NotImplementedError

    @property
    def trainer(self):
        """The trainer whose checkpoint is the run's (its twin travels inside it)."""
        raise NotImplementedError

    @property
    def step_count(self) -> int:
        """How far the run has come, the twin's steps included: the autosave clock saves when it moves."""
        twin = getattr(self.trainer, "twin", None)
        return self.trainer.step_count + (twin.step_count if twin is not None else 0)

    def checkpoint_bytes(self) -> bytes:
        return self.trainer.checkpoint_bytes()

    def progress(self) -> str:
        """How far it has trained, in words: "3 of 9 widths and 1,200 MLP steps"."""
        raise NotImplementedError

    def autosave(self, save, now: float | None = None) -> bool:
        """Hand save() the run's checkpoint when one is due: every few seconds while playing, once when it
        stops. True if it saved."""
        return self._autosave.save_if_due(self, self.playing, save, now)


@dataclass
class ELMRun(LiveRun):
    elm: ELMTrainer = None
    planes: dict = field(default_factory=dict)     # name -> (step, plane): drawn again only after training

    @classmethod
    def build(cls, config: ELMConfig, device="cpu", twin: Trainer | None = None) -> "ELMRun":
        """A new ELM and, unless one training on the same points is handed over, a new MLP twin."""
        elm = ELMTrainer(config, device)
        if twin is None:
            twin = Trainer(elm_twin_config(config), device, dataset=elm.dataset)    # the very same points
            twin.snapshot()
        elm.twin = twin
        elm.snapshot()
        return cls(config, elm=elm)

    @property
    def trainer(self) -> ELMTrainer:
        return self.elm

    @property
    def twin(self) -> Trainer:
        return self.elm.twin

    def progress(self) -> str:
        return f"{self.elm.step_count} of {len(self.config.train.sweep)} widths and {self.twin.step_count:,} MLP steps"

    @property
    def finished(self) -> bool:
        return self.elm.finished and self.twin.finished

    def advance(self, budget_s: float) -> None:
        if not self.elm.finished:
            self.elm.step(1)
        if not self.twin.finished:
            self.twin.train_for(budget_s)

    def plane(self, name: str):
        """The ELM's or the twin's output over the plane, cached until it trains again."""
        if name == "elm":
            key = self.elm.config.model.hidden
            if self.planes.get(name, (None,))[0] != key:
                self.planes[name] = (key, self.elm.plane(PLANE_RESOLUTION))
        elif self.planes.get(name, (None,))[0] != self.twin.step_count:
            snap = self.twin.snapshot(plane_resolution=PLANE_RESOLUTION)
            self.planes[name] = (self.twin.step_count, snap.plane["output"])
        return self.planes[name][1]


@dataclass
class ESNRun(LiveRun):
    esn: ESNTrainer = None
    echo: dict = field(default_factory=dict)      # the echo-state curves, measured once per run

    @property
    def trainer(self) -> ESNTrainer:
        return self.esn

    def progress(self) -> str:
        unit = "digits" if self.esn.digits else "training steps"
        return f"{self.esn.samples_seen:,} {unit}"

    def set_ridge(self, ridge: float) -> None:
        """A new λ: the read-out is refitted on everything seen, nothing is lost (a hot change)."""
        self.esn.set_ridge(ridge)
        self.config = self.esn.config

    @classmethod
    def build(cls, config: ESNConfig, device="cpu") -> "ESNRun":
        run = cls(config, esn=ESNTrainer(config, device))
        run.esn.snapshot()
        return run

    @property
    def finished(self) -> bool:
        return self.esn.finished

    def advance(self, budget_s: float) -> None:
        self.esn.step(1)   # one chunk of data and a refit, milliseconds: nothing trains by the clock

    def echo_curves(self, steps: int = 600) -> dict:
        """The distance of two initial states for this reservoir and, beside it, the same reservoir's
        weights scaled to a spectral radius of 3 (no leak): the echo-state property and its failure."""
        if not self.echo:
            self.echo[f"this reservoir (ρ = {self.config.model.spectral_radius:g})"] = \
                self.esn.echo_state_distances(steps)
            wild = self.config.replace(model={"spectral_radius": 3.0, "leak_rate": 1.0})
            self.echo["ρ = 3, no leak"] = ESNTrainer(wild, self.esn.device).echo_state_distances(steps)
        return self.echo


@dataclass
class LSMRun(LiveRun):
    lsm: LSMTrainer = None
    raster_cache: dict = field(default_factory=dict)

    @classmethod
    def build(cls, config: LSMConfig, esn_config: ESNConfig, device="cpu") -> "LSMRun":
        run = cls(config, lsm=LSMTrainer(config, device))
        run.lsm.twin = ESNTrainer(esn_config, device)
        run.lsm.snapshot()
        run.esn.snapshot()
        return run

    @property
    def trainer(self) -> LSMTrainer:
        return self.lsm

    @property
    def esn(self) -> ESNTrainer:
        """The echo state network on the same digits' rows, beside the liquid."""
        return self.lsm.twin

    def progress(self) -> str:
        return f"{self.lsm.samples_seen:,} digits"

    @property
    def finished(self) -> bool:
        return self.lsm.finished and self.esn.finished

    def advance(self, budget_s: float) -> None:
        if not self.lsm.finished:   # one chunk of digits each, milliseconds: nothing trains by the clock
            self.lsm.step(1)
        if not self.esn.finished:
            self.esn.step(1)

    def raster(self, index: int) -> dict:
        if self.raster_cache.get("index") != index:
            self.raster_cache = {"index": index, **self.lsm.raster(index)}
        return self.raster_cache


def elm_twin_config(config: ELMConfig):
    """The MLP beside the ELM: the Playground's config on the ELM's very points, stopped at TWIN_EPOCHS."""
    return twin_config(config).replace(train={"max_epochs": TWIN_EPOCHS})


def run_from_checkpoint(tab: str, data: bytes, device="cpu") -> LiveRun:
    """The run a tab saved ("elm", "esn", "lsm"), paused; ValueError when the file cannot be read or is
    not one this page saved (a twin missing, or not the one the page trains beside it)."""
    if tab == "elm":
        elm = ELMTrainer.from_checkpoint(data, device)
        if elm.twin is None or elm.twin.config != elm_twin_config(elm.config):
            raise ValueError("the MLP trained beside this ELM is missing or not the page's")
        return ELMRun(elm.config, elm=elm)
    if tab == "esn":
        esn = ESNTrainer.from_checkpoint(data, device)
        return ESNRun(esn.config, esn=esn)
    lsm = LSMTrainer.from_checkpoint(data, device)
    if lsm.twin is None or lsm.twin.config != esn_twin_config(lsm.config):
        raise ValueError("the echo state network trained beside this liquid is missing or not the page's")
    return LSMRun(lsm.config, lsm=lsm)
