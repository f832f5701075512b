"""The Reservoirs page's live runs, free of Streamlit: each tab's trainers, whether they play, and one
frame's work (tick). The fits take milliseconds, so a frame does one chunk: the ELM fits the next width
of its sweep while its MLP twin trains by backprop for the frame's budget; the ESN and the LSM drive
the next chunk of training data through their reservoirs and refit their read-outs."""
from __future__ import annotations

from dataclasses import dataclass, field

from app_pages.common.failures import train_guarded
from engine.mlp.trainer import Trainer
from engine.reservoirs import ELMConfig, ELMTrainer, ESNConfig, ESNTrainer, LSMConfig, LSMTrainer
from engine.reservoirs.elm import twin_config

TICK_SECONDS = 0.3          # the live view asks for a frame this often
TRAIN_SECONDS = 0.12        # of which the MLP twin trains this long
TWIN_EPOCHS = 300           # the twin stops here (about 6,000 steps on the default 200 training points)
PLANE_RESOLUTION = 50


@dataclass
class LiveRun:
    """What every tab's run shares: the config it was built for, playing, the message of a stop."""
    config: object
    playing: bool = False
    message: str = ""

    def play(self) -> None:
        self.playing = not self.finished
        self.message = ""

    def pause(self) -> None:
        self.playing = False

    def tick(self) -> None:
        """One frame: a chunk if playing; stops by itself at the end."""
        if self.playing and train_guarded(self, self.advance) and self.finished:
            self.playing = False

    def step(self) -> None:
        self.playing = False
        train_guarded(self, self.advance)


@dataclass
class ELMRun(LiveRun):
    elm: ELMTrainer = None
    twin: Trainer = None
    planes: dict = field(default_factory=dict)     # name -> (step, plane): drawn again only after training

    @classmethod
    def build(cls, config: ELMConfig, device="cpu") -> "ELMRun":
        elm = ELMTrainer(config, device)
        twin_cfg = twin_config(config).replace(train={"max_epochs": TWIN_EPOCHS})
        twin = Trainer(twin_cfg, device, dataset=elm.dataset)    # the very same points
        elm.snapshot()
        twin.snapshot()
        return cls(config, elm=elm, twin=twin)

    @property
    def finished(self) -> bool:
        return self.elm.finished and self.twin.finished

    def advance(self) -> None:
        if not self.elm.finished:
            self.elm.step(1)
        if not self.twin.finished:
            self.twin.train_for(TRAIN_SECONDS)

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

    @classmethod
    def build(cls, config: ESNConfig, device="cpu") -> "ESNRun":
        run = cls(config, esn=ESNTrainer(config, device))
        run.esn.snapshot()
        return run

    @property
    def finished(self) -> bool:
        return self.esn.finished

    def advance(self) -> None:
        self.esn.step(1)

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
    esn: ESNTrainer = None
    raster_cache: dict = field(default_factory=dict)

    @classmethod
    def build(cls, config: LSMConfig, esn_config: ESNConfig, device="cpu") -> "LSMRun":
        run = cls(config, lsm=LSMTrainer(config, device), esn=ESNTrainer(esn_config, device))
        run.lsm.snapshot()
        run.esn.snapshot()
        return run

    @property
    def finished(self) -> bool:
        return self.lsm.finished and self.esn.finished

    def advance(self) -> None:
        if not self.lsm.finished:
            self.lsm.step(1)
        if not self.esn.finished:
            self.esn.step(1)

    def raster(self, index: int) -> dict:
        if self.raster_cache.get("index") != index:
            self.raster_cache = {"index": index, **self.lsm.raster(index)}
        return self.raster_cache
