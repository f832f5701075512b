"""Autoencoder checkpoints (engine/autoencoders/checkpoint.py): for every kind, step(30), save,
load, step(30) is step(60) bit for bit on the CPU; each piece of the training state is needed for
that; and an empty, random, hand-made, damaged or code-carrying file is a ValueError that says
what is wrong, never another exception, never advice to switch the safe loader off."""
from __future__ import annotations

import io
import os
import pickle
import random

import pytest
import torch
from threadpoolctl import threadpool_limits

from autoencoder_helpers import one_cpu_thread, small  # noqa: F401 (one_cpu_thread: an autouse fixture)
from engine.autoencoders.checkpoint import FORMAT
from engine.autoencoders.trainer import AutoencoderTrainer
from trainer_helpers import SMALL, _same_weights, _weights


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """The trainer's PCA is one SVD: with OpenBLAS's threads on a busy 2-core machine it took
    2.8 s, with one thread 7 ms (measured while the suite ran)."""
    with threadpool_limits(1):
        yield


# Batches of 64 of the ~1,437 training images: an epoch ends inside the first 30 steps, so the
# resumed run needs this epoch's order, the position in it and the generator of the next ones.
KINDS = {
    "linear": small(kind="linear", loss="squared", lr=0.01, optimizer="momentum"),
    "deep": small(kind="deep", optimizer="adam"),
    "conv": small(kind="conv", optimizer="rmsprop"),
    "sparse": small(kind="sparse", latent_dim=8, sparsity=0.3, optimizer="adagrad", lr=0.03),
    "denoising": small(kind="denoising", noise="masking", noise_level=0.3),          # draws rand for its masks
    "vae": small(kind="vae", loss="bce", beta=2.0),                                   # draws randn for ε
    "conv_vae": small(kind="conv_vae", loss="bce", beta=0.5),                         # ε through the conv layers
}


def _tampered(data: bytes, **changes) -> bytes:
    blob = torch.load(io.BytesIO(data), weights_only=True)
    blob.update(changes)
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def _without(data: bytes, key: str) -> bytes:
    blob = torch.load(io.BytesIO(data), weights_only=True)
    del blob[key]
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


def _refused(data, match: str) -> str:
    with pytest.raises(ValueError, match=match) as info:
        AutoencoderTrainer.from_checkpoint(data, "cpu")
    assert type(info.value) is ValueError, type(info.value)  # not a subclass that a caller might not expect
    message = str(info.value)
    assert "weights_only" not in message and "\n" not in message, message  # one line, no advice to unlock
    return message


# ---------- the oracle: a paused and resumed run is the straight run ----------
@pytest.mark.parametrize("kind", list(KINDS))
def test_step_30_save_load_step_30_is_step_60_bit_for_bit(kind):
    config = KINDS[kind]
    straight = AutoencoderTrainer(config, "cpu")
    first, later = straight.step(30), straight.step(30)

    paused = AutoencoderTrainer(config, "cpu")
    assert paused.step(30).to_json_dict() == first.to_json_dict()
    data = paused.checkpoint_bytes()
    torch.manual_seed(99), torch.rand(50)  # the global generator between save and load changes nothing
    resumed = AutoencoderTrainer.from_checkpoint(data, "cpu")
    assert resumed.config == config and resumed.step_count == 30 and resumed.epoch == paused.epoch >= 1
    assert resumed.snapshot().to_json_dict() == first.to_json_dict()  # nothing moved in the round trip
    again = resumed.step(30)
    assert again.to_json_dict() == later.to_json_dict()  # every loss, norm and angle: ==, not approx
    assert _same_weights(_weights(straight), _weights(resumed))
    assert all(torch.equal(a, b) for a, b in zip(straight.model.state_dict().values(),
                                                   resumed.model.state_dict().values()))
    assert resumed.history == straight.history and resumed.step_count == 60


def test_each_piece_of_the_training_state_is_needed():
    """The oracle for the test above: replace the optimiser's moments, the batch order or the
    noise generator by a fresh trainer's and the resumed VAE no longer follows the straight run."""
    config = KINDS["vae"]
    straight = AutoencoderTrainer(config, "cpu")
    straight.step(30)
    data = straight.checkpoint_bytes()
    later = straight.step(30).train_objective
    fresh = AutoencoderTrainer(config, "cpu")
    for piece in ({"optimizer": fresh.optimizer.state_dict()},
                  {"order": fresh._order, "position": 0},
                  {"noise_generator": fresh._noise_gen.get_state()}):
        resumed = AutoencoderTrainer.from_checkpoint(_tampered(data, **piece), "cpu")
        assert resumed.step(30).train_objective != later, list(piece)


def test_the_file_is_read_by_the_safe_loader_and_a_diverged_run_stays_paused():
    trainer = AutoencoderTrainer(small(kind="linear", loss="squared", optimizer="sgd", lr=10.0, batch_size=256), "cpu")
    trainer.step(3)
    assert trainer.step(200).diverged
    blob = torch.load(io.BytesIO(trainer.checkpoint_bytes()), weights_only=True)
    assert blob["format"] == FORMAT and blob["diverged"] is True and blob["config"] == trainer.config.to_json()
    resumed = AutoencoderTrainer.from_checkpoint(trainer.checkpoint_bytes(), "cpu")
    assert resumed.diverged and resumed.step(5).step == trainer.step_count  # waits for a new learning rate
    assert resumed.apply(resumed.config.replace(lr=0.001)) == [] and resumed.step(5).step == trainer.step_count + 5


def test_a_checkpoint_from_another_kind_of_device_goes_on_with_a_fresh_noise_stream():
    trainer = AutoencoderTrainer(KINDS["vae"], "cpu")
    trainer.step(10)
    cuda_state = torch.zeros(16, dtype=torch.uint8)  # a CUDA generator's state: seed and offset
    cuda_like = _tampered(trainer.checkpoint_bytes(), noise_device="cuda", noise_generator=cuda_state)
    resumed = AutoencoderTrainer.from_checkpoint(cuda_like, "cpu")
    assert resumed.step_count == 10 and _same_weights(_weights(trainer), _weights(resumed))
    assert resumed.step(5).step == 15
    _refused(_tampered(trainer.checkpoint_bytes(), noise_generator=cuda_state),
             "damaged: noise_generator is not a state of this generator")


# ---------- hostile files ----------
class _System:
    """Unpickling this would call os.system(command): what a malicious checkpoint carries."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


def test_empty_random_and_foreign_files_are_refused():
    _refused(b"", "the file is empty")
    _refused(None, "expected the file's bytes")
    for seed in range(5):
        _refused(random.Random(seed).randbytes(4096), "not an autoencoder checkpoint")
    _refused(b"definitely not a checkpoint", "not a file written by torch.save")
    good = AutoencoderTrainer(KINDS["deep"], "cpu").checkpoint_bytes()
    _refused(good[:len(good) // 2], "not an autoencoder checkpoint")  # a truncated download
    buf = io.BytesIO()
    torch.save([torch.zeros(3)], buf)
    _refused(buf.getvalue(), "it holds a list, not a dict")
    from engine.mlp.trainer import Trainer
    _refused(Trainer(SMALL, "cpu").checkpoint_bytes(), "its format is 2")  # the Playground's
    _refused(_tampered(good, format=None), "its format is None")
    _refused(_without(good, "optimizer"), "damaged: it lacks 'optimizer'")


def test_a_pickle_that_would_run_os_system_is_refused_unsafe_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    command = f"touch {marker}"
    pickle.loads(pickle.dumps(_System(command)))  # the payload is live: a plain unpickler runs it
    assert marker.exists()
    marker.unlink()
    good = torch.load(io.BytesIO(AutoencoderTrainer(KINDS["deep"], "cpu").checkpoint_bytes()), weights_only=True)
    files = [pickle.dumps({"format": FORMAT, "config": "{}", "state_dict": _System(command)}, protocol=2)]
    for where in ("state_dict", "history", "optimizer", "noise_generator"):
        buf = io.BytesIO()
        torch.save({**good, where: _System(command)}, buf)
        files.append(buf.getvalue())
    for data in files:
        message = _refused(data, "refused as unsafe")
        assert "system" in message  # it names what the file would have called
    assert not marker.exists()


def test_weights_of_the_wrong_shape_or_not_finite_are_refused():
    trainer = AutoencoderTrainer(KINDS["deep"], "cpu")
    trainer.step(5)
    data = trainer.checkpoint_bytes()
    weights = torch.load(io.BytesIO(data), weights_only=True)["state_dict"]
    name = next(iter(weights))
    _refused(_tampered(data, state_dict={**weights, name: torch.zeros(3, 3)}), f"do not fit its config: {name}")
    _refused(_tampered(data, state_dict={**weights, name: weights[name].double()}), "do not fit its config")
    _refused(_tampered(data, state_dict={k: v for k, v in weights.items() if k != name}), f"missing {name}")
    _refused(_tampered(data, state_dict={**weights, "extra.weight": torch.zeros(2)}), "unexpected extra.weight")
    _refused(_tampered(data, state_dict={**weights, name: "zeros"}), "not a dense tensor")
    for bad in (float("nan"), float("inf")):
        poisoned = weights[name].clone()
        poisoned[0, 0] = bad
        _refused(_tampered(data, state_dict={**weights, name: poisoned}), f"not all finite numbers .* {name}")
    # weights that fit another config: a 3-number code in a file that says 2
    other = AutoencoderTrainer(small(kind="deep", optimizer="adam", latent_dim=3), "cpu").checkpoint_bytes()
    _refused(_tampered(other, config=trainer.config.to_json()), "do not fit its config")
    _refused(_tampered(data, config=trainer.config.to_json().replace('"latent_dim": 2', '"latent_dim": 99')),
             "invalid config: model.latent_dim")
    _refused(_tampered(data, config={"model": "deep"}), "config is not JSON text")
    _refused(_tampered(data, config="{"), "invalid config")


def test_a_damaged_training_state_is_refused_naming_the_piece():
    trainer = AutoencoderTrainer(KINDS["deep"], "cpu")  # Adam
    trainer.step(12)
    data = trainer.checkpoint_bytes()
    n = trainer.n_train
    blob = torch.load(io.BytesIO(data), weights_only=True)
    optimizer = blob["optimizer"]

    def moment(**state_changes):
        state = {i: dict(s) for i, s in optimizer["state"].items()}
        state[0].update(state_changes)
        return {**optimizer, "state": {i: {k: v for k, v in s.items() if v is not None} for i, s in state.items()}}

    sgd = AutoencoderTrainer(small(kind="deep", optimizer="momentum"), "cpu")
    sgd.step(1)
    cases = [
        ({"order": torch.arange(n - 1)}, "order must be a permutation"),
        ({"order": torch.zeros(n, dtype=torch.int64)}, "order must be a permutation"),
        ({"order": torch.arange(n).float()}, "order must be a permutation"),
        ({"position": n}, "position must be below"), ({"position": -1}, "position must be a whole number"),
        ({"step": "12"}, "step must be a whole number"), ({"epoch": True}, "epoch must be a whole number"),
        ({"batch_generator": torch.zeros(7, dtype=torch.uint8)}, "batch_generator is not a state"),
        ({"batch_generator": torch.zeros(7)}, "batch_generator must be a generator state"),
        ({"noise_generator": [1, 2]}, "noise_generator must be a generator state"),
        ({"noise_device": 3}, "noise_device must be a device type"),
        ({"grad_norms": torch.zeros(2)}, "grad_norms must be 5 finite numbers"),
        ({"grad_norms": torch.full((5,), float("nan"))}, "grad_norms must be 5 finite numbers"),
        ({"history": [{"step": "x"}]}, "history must be a list of points"),
        ({"history": "lots"}, "history must be a list of points"),
        ({"diverged": "no"}, "diverged must be true or false"),
        ({"optimizer": {}}, "optimizer must hold"),
        ({"optimizer": sgd.optimizer.state_dict()}, "not that of 'adam'"),
        ({"optimizer": {**optimizer, "param_groups": []}}, "not that of 'adam'"),
        ({"optimizer": {**optimizer, "state": {99: {}}}}, "names no parameter"),
        ({"optimizer": moment(exp_avg=torch.zeros(3))}, "optimizer state 'exp_avg' is"),
        ({"optimizer": moment(exp_avg=torch.tensor(0.0))}, "optimizer state 'exp_avg' is"),
        ({"optimizer": moment(exp_avg_sq=optimizer["state"][0]["exp_avg_sq"] * float("nan"))}, "not all finite"),
        ({"optimizer": moment(step=torch.tensor(-3.0))}, "'step' must be a whole number"),
        ({"optimizer": moment(exp_avg=None)}, "a parameter's holds exp_avg_sq, step"),
        ({"optimizer": moment(exp_avg="zeros")}, "optimizer state 'exp_avg' is not a real tensor"),
    ]
    for changes, match in cases:
        message = _refused(_tampered(data, **changes), match)
        assert "damaged" in message, message
    # the optimiser's hyperparameters are the config's, whatever the file says
    odd = {**optimizer, "param_groups": [{**g, "betas": "fast", "lr": 5.0} for g in optimizer["param_groups"]]}
    resumed = AutoencoderTrainer.from_checkpoint(_tampered(data, optimizer=odd), "cpu")
    assert resumed.optimizer.param_groups[0]["betas"] == (0.9, 0.999)
    assert resumed.optimizer.param_groups[0]["lr"] == trainer.config.train.lr
    assert resumed.step(3).step == 15
    assert AutoencoderTrainer.from_checkpoint(_tampered(data), "cpu").step_count == 12  # the untouched file loads


def test_flipped_bytes_load_or_are_a_value_error():
    data = bytearray(AutoencoderTrainer(KINDS["linear"], "cpu").checkpoint_bytes())
    rng = random.Random(0)
    outcomes = set()
    for _ in range(40):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            AutoencoderTrainer.from_checkpoint(bytes(damaged), "cpu")
            outcomes.add("loaded")
        except ValueError as e:
            assert "weights_only" not in str(e)
            outcomes.add("refused")
    assert "refused" in outcomes
