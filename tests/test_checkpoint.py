"""Trainer checkpoints: a round trip, resuming equals a straight run, and refusal of garbage,
mismatched weights, damaged training state and anything that would run code on load."""
from __future__ import annotations

import io
import json
import math
import pickle

import pytest
import torch

from engine.mlp.data import grid_points, make_features
from engine.mlp.trainer import Trainer
from trainer_helpers import EXPLODING, SMALL, _losses, _same_weights, _weights


def test_checkpoint_round_trip():
    config = SMALL.replace(model={"norm": "batch", "dropout": 0.1}, train={"optimizer": "adam", "lr": 0.01})
    t = Trainer(config, "cpu")
    t.step(17)
    data = t.checkpoint_bytes()
    u = Trainer.from_checkpoint(data, "cpu")
    assert u.config == t.config and u.step_count == 17 and u.epoch == t.epoch
    x = torch.from_numpy(make_features(grid_points(20), config.data.features))
    t.model.eval(), u.model.eval()
    with torch.no_grad():
        assert torch.equal(t.model(x), u.model(x))
    assert u.snapshot().train_loss == t.snapshot().train_loss
    # the file loads with the safe loader alone
    blob = torch.load(io.BytesIO(data), weights_only=True)
    assert json.loads(blob["config"]) == config.to_dict()


def test_checkpoint_refuses_garbage_and_mismatched_weights():
    with pytest.raises(ValueError, match="not a Neural Playground checkpoint"):
        Trainer.from_checkpoint(b"definitely not a checkpoint", "cpu")
    buf = io.BytesIO()
    torch.save({"weights": torch.zeros(3)}, buf)
    with pytest.raises(ValueError, match="expected the keys"):
        Trainer.from_checkpoint(buf.getvalue(), "cpu")
    t = Trainer(SMALL, "cpu")
    blob = torch.load(io.BytesIO(t.checkpoint_bytes()), weights_only=True)
    blob["config"] = SMALL.replace(model={"hidden": [5]}).to_json()
    buf = io.BytesIO()
    torch.save(blob, buf)
    with pytest.raises(ValueError, match="do not fit"):
        Trainer.from_checkpoint(buf.getvalue(), "cpu")


class _Payload:
    """Unpickling this calls open(marker, 'w'): a harmless stand-in for running code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_checkpoint_refuses_code_execution(tmp_path):
    # the payload is live: a plain pickle.loads does run it
    control = tmp_path / "control"
    pickle.loads(pickle.dumps(_Payload(control))).close()
    assert control.exists()

    marker = tmp_path / "pwned"
    raw = pickle.dumps({"config": "{}", "state_dict": _Payload(marker)}, protocol=2)
    buf = io.BytesIO()
    torch.save({"config": SMALL.to_json(), "state_dict": _Payload(marker), "step": 0}, buf, pickle_protocol=2)
    for data in (raw, buf.getvalue()):
        with pytest.raises(ValueError, match="not a Neural Playground checkpoint"):
            Trainer.from_checkpoint(data, "cpu")
    assert not marker.exists()


# ---- checkpoints carry the whole run: resume == straight ----

RESUMABLE = [
    SMALL,  # plain SGD: only the batch order and position matter
    # Adam moments, dropout draws, batch-norm statistics, a batch size that ends epochs mid-batch
    SMALL.replace(model={"dropout": 0.3, "norm": "batch"}, train={"optimizer": "adam", "lr": 0.01, "batch_size": 7}),
    SMALL.replace(train={"optimizer": "momentum", "batch_size": 13}),
]


@pytest.mark.parametrize("config", RESUMABLE)
def test_checkpoint_resume_equals_straight_run(config):
    straight = Trainer(config, "cpu")
    first = _losses(straight, 3, 10)
    later = _losses(straight, 3, 10)

    paused = Trainer(config, "cpu")
    assert _losses(paused, 3, 10) == first
    data = paused.checkpoint_bytes()
    torch.manual_seed(99), torch.rand(50)  # the global RNG between save and load changes nothing
    resumed = Trainer.from_checkpoint(data, "cpu")
    assert _losses(resumed, 3, 10) == later  # exact, not approximately
    assert _same_weights(_weights(straight), _weights(resumed))
    assert resumed.step_count == straight.step_count == 60 and resumed.epoch == straight.epoch
    assert resumed.history == straight.history
    assert resumed.snapshot().grad_norms == straight.snapshot().grad_norms


def test_checkpoint_resume_needs_the_training_state():
    # the oracle for the test above: without the optimiser state and the batch order the
    # resumed run differs, so the equality there is not an accident of the config
    config = RESUMABLE[1]
    straight = Trainer(config, "cpu")
    straight.step(30)
    blob = torch.load(io.BytesIO(straight.checkpoint_bytes()), weights_only=True)
    old = {k: blob[k] for k in ("config", "state_dict", "step", "epoch")}
    buf = io.BytesIO()
    torch.save(old, buf)
    weights_only = Trainer.from_checkpoint(buf.getvalue(), "cpu")
    assert _same_weights(_weights(straight), _weights(weights_only))
    assert weights_only.step(30).train_loss != straight.step(30).train_loss


def test_checkpoint_of_a_diverged_run_stays_paused():
    t = Trainer(EXPLODING, "cpu")
    assert t.step(50).diverged
    u = Trainer.from_checkpoint(t.checkpoint_bytes(), "cpu")
    assert u.diverged and u.step(5).step == t.step_count


def test_old_style_checkpoint_still_loads():
    # the first format: config + state_dict + step + epoch, nothing else
    config = SMALL.replace(train={"optimizer": "adam", "lr": 0.01})
    t = Trainer(config, "cpu")
    t.step(17)
    buf = io.BytesIO()
    torch.save({"config": config.to_json(), "state_dict": t.model.state_dict(), "step": 17, "epoch": t.epoch}, buf)
    u = Trainer.from_checkpoint(buf.getvalue(), "cpu")
    assert u.config == config and u.step_count == 17 and u.epoch == t.epoch
    assert _same_weights(_weights(t), _weights(u))
    assert u.snapshot().train_loss == t.snapshot().train_loss
    assert u.history == [u.history[0]] and u.history[0]["step"] == 17  # a fresh curve from the snapshot
    snap = u.step(5)  # and it trains on
    assert snap.step == 22 and math.isfinite(snap.train_loss)


def _tampered(trainer, **changes):
    blob = torch.load(io.BytesIO(trainer.checkpoint_bytes()), weights_only=True)
    blob.update(changes)
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def test_checkpoint_refuses_damaged_training_state():
    t = Trainer(SMALL.replace(train={"optimizer": "adam"}), "cpu")
    t.step(12)
    n = t.n_train
    sgd_state = Trainer(SMALL, "cpu").optimizer.state_dict()
    bad_moment = torch.load(io.BytesIO(t.checkpoint_bytes()), weights_only=True)["optimizer"]
    bad_moment["state"][0]["exp_avg"] = torch.zeros(3)  # a moment of the wrong shape
    for changes in ({"order": torch.arange(n - 1)}, {"order": torch.zeros(n, dtype=torch.int64)},
                    {"position": n}, {"position": -1}, {"step": "12"},
                    {"batch_generator": torch.zeros(7, dtype=torch.uint8)}, {"dropout_rng": torch.zeros(3)},
                    {"last_grad_norms": torch.zeros(1)}, {"history": [{"step": "x"}]}, {"diverged": "no"},
                    {"optimizer": sgd_state}, {"optimizer": bad_moment}, {"optimizer": {}}):
        with pytest.raises(ValueError, match="damaged"):
            Trainer.from_checkpoint(_tampered(t, **changes), "cpu")
    assert Trainer.from_checkpoint(_tampered(t), "cpu").step_count == 12  # the untouched file loads


def test_checkpoint_refuses_code_in_the_training_state(tmp_path):
    marker = tmp_path / "pwned"
    t = Trainer(SMALL, "cpu")
    blob = torch.load(io.BytesIO(t.checkpoint_bytes()), weights_only=True)
    for key in ("optimizer", "history", "batch_generator"):
        buf = io.BytesIO()
        torch.save({**blob, key: _Payload(marker)}, buf, pickle_protocol=2)
        with pytest.raises(ValueError, match="not a Neural Playground checkpoint"):
            Trainer.from_checkpoint(buf.getvalue(), "cpu")
    with pytest.raises(ValueError, match="not a Neural Playground checkpoint"):
        Trainer.from_checkpoint(b"\x80\x02garbage" * 10, "cpu")
    assert not marker.exists()
