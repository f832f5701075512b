"""The three benchmarks. Each returns plain numbers; `ratio` is always computed from the
two values it compares, both measured in this run (a test checks that)."""
from __future__ import annotations

import statistics
from contextlib import contextmanager

import torch

import engine.mlp.trainer
from engine.mlp.probes import plane_outputs
from engine.mlp.trainer import Trainer

from .timing import median_seconds, time_once
from .workload import PlainLoop, playground_config

FRAME_SECONDS = 0.12   # the training share of one live-view frame the app asks for
FRAME_PLANE = 50       # the boundary-plot resolution a frame's snapshot draws (PlaygroundRun.tick)


def trainer_vs_plain(device: torch.device, repeats: int = 7, epochs: int = 20) -> dict:
    """(a) Epochs per second of a hand-written loop and of Trainer.step(n) on the same data."""
    config = playground_config()
    plain, trainer = PlainLoop(config, device), Trainer(config, device)
    steps = epochs * plain.steps_per_epoch
    t = median_seconds({"plain": lambda: plain.run_epochs(epochs), "trainer": lambda: trainer.step(steps)},
                       device, repeats)
    plain_eps, trainer_eps = epochs / t["plain"], epochs / t["trainer"]
    return {"epochs_per_repeat": epochs, "plain_epochs_per_s": plain_eps, "trainer_epochs_per_s": trainer_eps,
            "ratio": trainer_eps / plain_eps}


@contextmanager
def gradient_norms_disabled(n_layers: int):
    """Replace the trainer's gradient-norm probe with a stub that reads nothing (bench only)."""
    zeros = torch.zeros(n_layers)
    original = engine.mlp.trainer.gradient_norms_by_layer
    engine.mlp.trainer.gradient_norms_by_layer = lambda model: zeros
    try:
        yield
    finally:
        engine.mlp.trainer.gradient_norms_by_layer = original


def probe_cost(device: torch.device, repeats: int = 7, steps: int = 500, read_repeats: int = 20) -> dict:
    """(b) Steps per second with and without the gradient-norm probe, and the cost of the
    reads a frame makes: a snapshot with the boundary plane, and every neuron's plane.
    On the fused path (this workload) the Trainer reads the norms once per chunk, from the
    last step's gradients, so the two differ by one read; P4 measures per-step probes."""
    config = playground_config()
    probed, bare = Trainer(config, device), Trainer(config, device)
    n_layers = len(bare.model.named_linears())

    def bare_step():
        with gradient_norms_disabled(n_layers):
            bare.step(steps)

    t = median_seconds({"probed": lambda: probed.step(steps), "bare": bare_step}, device, repeats)
    probed_sps, bare_sps = steps / t["probed"], steps / t["bare"]
    ms_per_step = 1000 / probed_sps
    reads = median_seconds({
        "snapshot": lambda: probed.snapshot(plane_resolution=50),
        "plane": lambda: plane_outputs(probed.model, config.data.features, probed.n_classes, probed.device,
                                       resolution=24, neurons=True),
    }, device, read_repeats)
    snapshot_ms, plane_ms = 1000 * reads["snapshot"], 1000 * reads["plane"]
    return {"steps_per_repeat": steps, "steps_per_s_probed": probed_sps, "steps_per_s_unprobed": bare_sps,
            "ratio": probed_sps / bare_sps, "overhead_percent": 100 * (bare_sps / probed_sps - 1),
            "ms_per_step": ms_per_step, "snapshot_ms": snapshot_ms, "plane_outputs_ms": plane_ms,
            "snapshot_in_steps": snapshot_ms / ms_per_step, "plane_outputs_in_steps": plane_ms / ms_per_step}


def frame_budget(device: torch.device, repeats: int = 7, seconds: float = FRAME_SECONDS, plain_epochs: int = 5) -> dict:
    """(c) What one live frame trains: train_for(seconds) with the frame's snapshot, against
    what the plain loop trains in the same time. The two take turns, frame by frame, so
    that both see the same machine load."""
    config = playground_config()
    plain, trainer = PlainLoop(config, device), Trainer(config, device)
    plain.run_epochs(1)
    trainer.train_for(seconds, plane_resolution=FRAME_PLANE)  # warm-up
    epochs, steps, frame_s, plain_s = [], [], [], []
    for _ in range(repeats):
        plain_s.append(time_once(lambda: plain.run_epochs(plain_epochs), device))
        epoch0, step0 = trainer.history[-1]["epoch_exact"], trainer.step_count
        frame_s.append(time_once(lambda: trainer.train_for(seconds, plane_resolution=FRAME_PLANE), device))
        epochs.append(trainer.history[-1]["epoch_exact"] - epoch0)
        steps.append(trainer.step_count - step0)
    per_frame = statistics.median(epochs)
    plain_in_frame = seconds * plain_epochs / statistics.median(plain_s)
    return {"train_seconds": seconds, "epochs_per_frame": per_frame, "steps_per_frame": statistics.median(steps),
            "frame_ms": 1000 * statistics.median(frame_s), "plain_epochs_in_frame": plain_in_frame,
            "ratio": per_frame / plain_in_frame}


def autosave_cost(device: torch.device, repeats: int = 7, seconds: float = FRAME_SECONDS) -> dict:
    """(d) What saving a session costs the live Playground. Measured: one live frame
    (train_for + the frame's snapshot) and one autosave of its run (checkpoint_bytes, then a
    put into a real SQLite store in WAL mode, in a temporary folder). The live view saves every
    AUTOSAVE_SECONDS, so its share of the training time is save / AUTOSAVE_SECONDS, and the
    epochs/s it leaves are the frames' epochs over their time plus that share."""
    import tempfile

    from app_pages.common.autosave import AUTOSAVE_SECONDS
    from app_pages.common.session_store import SQLiteStore
    from app_pages.playground.state import PlaygroundRun

    run = PlaygroundRun(Trainer(playground_config(), device))
    run.trainer.train_for(seconds, plane_resolution=FRAME_PLANE)  # warm-up
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteStore(f"{folder}/sessions.sqlite3")
        frame_s, save_s, epochs = [], [], []
        for _ in range(repeats):
            epoch0 = run.trainer.history[-1]["epoch_exact"]
            frame_s.append(time_once(lambda: run.trainer.train_for(seconds, plane_resolution=FRAME_PLANE), device))
            epochs.append(run.trainer.history[-1]["epoch_exact"] - epoch0)
            save_s.append(time_once(lambda: run.autosave(lambda data: store.put("bench", "playground", data),
                                                         now=float("inf")), device))
        size = store.list("bench")[0].size
        store.close()
    frame, save = statistics.median(frame_s), statistics.median(save_s)
    bare = statistics.median(epochs) / frame
    with_saves = bare / (1 + save / AUTOSAVE_SECONDS)
    return {"frame_ms": 1000 * frame, "save_ms": 1000 * save, "checkpoint_bytes": size,
            "autosave_seconds": AUTOSAVE_SECONDS, "epochs_per_s": bare, "epochs_per_s_with_autosave": with_saves,
            "overhead_percent": 100 * (bare / with_saves - 1), "ratio": with_saves / bare}
