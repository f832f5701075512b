"""The GAN engine against independent computations: each loss variant as its formula
defines it, the generator's gradient arrows against finite differences, the MMD against a
double loop; training on one gaussian moves the generated mean to the target's; runs are
deterministic and resumable; divergence keeps the last finite state; the digits GAN."""
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine import ConfigError
from engine.gan.digits import DigitsGANConfig, DigitsGANTrainer, load_digit_pixels
from engine.gan.trainer import (GAUSS_MEAN, TARGETS, GANConfig, GANTrainer, gan_losses, mixture_centres, mmd_rbf,
                                sample_noise, sample_target)
from engine.tasks import config_from_dict

ROOT = Path(__file__).resolve().parent.parent
TINY = dict(g_width=8, d_width=8, g_layers=1, d_layers=1, batch_size=32)


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as the app runs; tiny networks only lose time to more threads
    yield
    torch.set_num_threads(before)


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def direct_losses(a_real: np.ndarray, a_fake: np.ndarray, variant: str) -> tuple[float, float]:
    """The losses straight from their definitions, in float64 NumPy."""
    if variant == "least_squares":
        return (0.5 * np.mean((a_real - 1) ** 2) + 0.5 * np.mean(a_fake ** 2), 0.5 * np.mean((a_fake - 1) ** 2))
    d_real, d_fake = sigmoid(a_real), sigmoid(a_fake)
    d_loss = -np.mean(np.log(d_real)) - np.mean(np.log(1 - d_fake))
    g_loss = np.mean(np.log(1 - d_fake)) if variant == "minimax" else -np.mean(np.log(d_fake))
    return d_loss, g_loss


@pytest.mark.parametrize("variant", ["minimax", "nonsaturating", "least_squares"])
def test_losses_match_their_definition_on_the_trainers_networks(variant):
    trainer = GANTrainer(GANConfig(loss=variant, seed=3), "cpu")
    trainer.step(20)
    gen = torch.Generator().manual_seed(7)
    real, z = sample_target(trainer.config, 64, gen), sample_noise(trainer.config, 64, gen)
    with torch.no_grad():
        a_real, a_fake = trainer.D(real).squeeze(1), trainer.D(trainer.G(z)).squeeze(1)
    d_loss, g_loss = gan_losses(a_real, a_fake, variant)
    want_d, want_g = direct_losses(a_real.double().numpy(), a_fake.double().numpy(), variant)
    assert float(d_loss) == pytest.approx(want_d, rel=1e-5)
    assert float(g_loss) == pytest.approx(want_g, rel=1e-5)


def test_the_loss_stays_finite_where_d_is_certain():
    # log(1 - sigmoid(40)) underflows in a naive computation; -softplus(40) does not.
    d_loss, g_loss = gan_losses(torch.tensor([40.0]), torch.tensor([40.0]), "minimax")
    assert math.isfinite(float(d_loss)) and float(g_loss) == pytest.approx(-40.0, abs=1e-6)


@pytest.mark.parametrize("variant", ["minimax", "nonsaturating", "least_squares"])
def test_arrows_are_minus_the_gradient_of_the_per_point_g_loss(variant):
    trainer = GANTrainer(GANConfig(loss=variant, seed=1), "cpu")
    trainer.step(30)
    with torch.no_grad():
        fake = trainer.G(trainer.eval_z[:5]).double()
    arrows = trainer.generator_gradient(fake.float())
    D = trainer.D.double()

    def point_loss(p):
        a = D(torch.tensor(p[None])).item()
        return direct_losses(np.array([1.0]), np.array([a]), variant)[1]

    eps = 1e-5
    for x, arrow in zip(fake.numpy(), arrows):
        grad = [(point_loss(x + e) - point_loss(x - e)) / (2 * eps) for e in np.eye(2) * eps]
        assert np.allclose(-np.array(grad), arrow, rtol=1e-3, atol=1e-5)


def test_mmd_matches_a_double_loop_and_is_zero_for_equal_samples():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 2)), rng.normal(loc=0.5, size=(25, 2))

    def k(a, b):
        return sum(math.exp(-np.sum((a - b) ** 2) / (2 * s * s)) for s in (0.1, 0.3, 1.0))

    def mean_k(a, b):
        return np.mean([[k(p, q) for q in b] for p in a])

    want = mean_k(x, x) + mean_k(y, y) - 2 * mean_k(x, y)
    got = mmd_rbf(torch.from_numpy(x), torch.from_numpy(y))
    assert got == pytest.approx(want, rel=1e-4)
    assert mmd_rbf(torch.from_numpy(x), torch.from_numpy(x)) == pytest.approx(0.0, abs=1e-6)


def test_training_on_one_gaussian_moves_the_generated_mean_to_the_targets():
    trainer = GANTrainer(GANConfig(target="gaussian", spread=0.0, seed=0), "cpu")
    start = np.linalg.norm(np.array(trainer.snapshot().fake_mean) - GAUSS_MEAN)
    assert start > 0.7  # G starts near the origin, the target sits at (0.8, 0.6)
    # The game circles around its equilibrium rather than settling on it: the generated mean
    # overshoots and comes back. Its average over steps 100..400 is what must sit on the target.
    trainer.step(100)
    means = [trainer.step(25).fake_mean for _ in range(12)]
    end = np.linalg.norm(np.mean(means, axis=0) - GAUSS_MEAN)
    assert end < 0.25 * start, (start, end)
    assert np.mean([h["mmd"] for h in trainer.history[-12:]]) < 0.5 * trainer.history[0]["mmd"]


def test_step_in_chunks_equals_one_run_and_a_checkpoint_resumes_exactly():
    cfg = GANConfig(seed=5, d_steps=2, **TINY)
    a, b = GANTrainer(cfg, "cpu"), GANTrainer(cfg, "cpu")
    a.step(5)
    saved = a.checkpoint_bytes()
    snap_a = a.step(5)
    snap_b = b.step(10)
    assert snap_a.to_json_dict() == snap_b.to_json_dict()
    for p, q in zip(a.G.parameters(), b.G.parameters()):
        assert torch.equal(p, q)
    c = GANTrainer.from_checkpoint(saved, "cpu")
    assert c.step(5).to_json_dict() == snap_a.to_json_dict()
    with pytest.raises(ValueError, match="not a GAN checkpoint"):
        GANTrainer.from_checkpoint(b"junk", "cpu")


def _same_game(a, b) -> None:
    """Bit for bit: weights, optimiser moments, the batch generator, counters and curves."""
    for net in ("G", "D"):
        for (name, p), q in zip(getattr(a, net).state_dict().items(), getattr(b, net).state_dict().values()):
            assert torch.equal(p, q), (net, name)
    for opt in ("opt_g", "opt_d"):
        for p_state, q_state in zip(getattr(a, opt).state_dict()["state"].values(),
                                    getattr(b, opt).state_dict()["state"].values()):
            assert all(torch.equal(p_state[k], q_state[k]) for k in p_state), opt
    assert torch.equal(a._gen.get_state(), b._gen.get_state())
    assert json.dumps(a.history) == json.dumps(b.history)  # NaN (no loss yet) compares equal as text
    assert json.dumps(a._ema) == json.dumps(b._ema) and a.step_count == b.step_count


@pytest.mark.parametrize("g_optimizer, d_optimizer", [("adam", "momentum"), ("rmsprop", "adagrad")])
def test_a_restored_game_goes_on_exactly_as_the_uninterrupted_one(g_optimizer, d_optimizer):
    cfg = GANConfig(seed=2, target="mixture", g_optimizer=g_optimizer, d_optimizer=d_optimizer, **TINY)
    game = GANTrainer(cfg, "cpu")
    game.snapshot()  # a curve point before any loss: NaN losses travel too
    game.step(3)
    game.step_d_only(4)
    game.step_g_only(2)
    game.apply(cfg.replace(loss="minimax", g_lr=0.01, d_steps=3, batch_size=64))  # hot changes are saved
    game.step(2)
    back = GANTrainer.from_checkpoint(game.checkpoint_bytes(), "cpu")
    assert back.config == game.config and (back.d_updates, back.g_updates) == (game.d_updates, game.g_updates)
    assert back.opt_g.param_groups[0]["lr"] == 0.01
    _same_game(back, game)
    assert back.step(6).to_json_dict() == game.step(6).to_json_dict()
    assert back.step_d_only(3).to_json_dict() == game.step_d_only(3).to_json_dict()
    _same_game(back, game)
    assert (back.d_updates, back.g_updates) == (game.d_updates, game.g_updates) == (34, 13)


def test_a_diverged_game_is_saved_as_diverged():
    bad = GANConfig(g_optimizer="sgd", d_optimizer="sgd", g_lr=1.0, d_lr=1.0, g_activation="linear",
                    d_activation="linear", g_layers=3, d_layers=3, loss="least_squares", g_width=8, d_width=8)
    game = GANTrainer(bad, "cpu")
    for _ in range(20):
        if game.step(50).diverged:
            break
    back = GANTrainer.from_checkpoint(game.checkpoint_bytes(), "cpu")
    assert back.diverged and back.step_count == game.step_count and back.step(5).step == game.step_count


def _saved(blob_changes: dict | None = None, drop: str | None = None, digits: bool = False) -> bytes:
    """A real checkpoint with some pieces replaced or dropped."""
    import io
    trainer = (DigitsGANTrainer(DigitsGANConfig(hidden=16, noise_dim=2, batch_size=8), "cpu", load_digit_pixels()[:40])
               if digits else GANTrainer(GANConfig(**TINY), "cpu"))
    trainer.step(2)
    blob = torch.load(io.BytesIO(trainer.checkpoint_bytes()), weights_only=True)
    blob.update(blob_changes or {})
    blob.pop(drop, None)
    buf = io.BytesIO()
    torch.save(blob, buf)
    return buf.getvalue()


class NotData:
    """An object a checkpoint of this app never holds."""


@pytest.mark.parametrize("make, says", [
    (lambda: b"", "the file is empty"),
    (lambda: _saved({"extra": NotData()}), "refused as unsafe"),
    (lambda: _saved({"format": 2}), "this game reads format 1"),
    (lambda: _saved(drop="history"), "lacks 'history'"),
    (lambda: _saved({"config": json.dumps({"g_width": 0})}), "invalid config"),
    (lambda: _saved({"G": {"0.weight": torch.zeros(3, 3)}}), "do not fit its config"),
    (lambda: _saved({"D": {k: torch.full_like(v, math.nan) for k, v in GANTrainer(GANConfig(**TINY), "cpu")
                           .D.state_dict().items()}}), "not all finite"),
    (lambda: _saved({"counters": [1, -1, 0]}), "d_updates must be a whole number"),
    (lambda: _saved({"history": [{"step": "x"}]}), "history must be a list of points"),
    (lambda: _saved({"generator": torch.zeros(3)}), "generator must be a generator state"),
    (lambda: _saved({"opt_g": {"state": {0: {"momentum_buffer": torch.zeros(8, 2)}}, "param_groups": []}}),
     "opt_g is not the state of an optimiser"),
    (lambda: _saved({"diverged": "no"}), "diverged must be true or false"),
])
def test_a_damaged_or_hostile_checkpoint_is_refused_with_what_is_wrong(make, says):
    with pytest.raises(ValueError, match=says):
        GANTrainer.from_checkpoint(make(), "cpu")


def test_a_digits_checkpoint_is_checked_and_not_taken_for_the_2d_game():
    with pytest.raises(ValueError, match="of kind 'gan'"):
        GANTrainer.from_checkpoint(_saved(digits=True), "cpu")
    with pytest.raises(ValueError, match="timeline must hold"):
        DigitsGANTrainer.from_checkpoint(_saved({"timeline": {"steps": [0, 2], "grids": torch.zeros(1, 36, 8, 8)}},
                                                digits=True), "cpu")


def test_d_only_and_g_only_move_only_their_player():
    trainer = GANTrainer(GANConfig(seed=2, **TINY), "cpu")
    g0 = [p.clone() for p in trainer.G.parameters()]
    d0 = [p.clone() for p in trainer.D.parameters()]
    snap = trainer.step_d_only(3)
    assert (snap.d_updates, snap.g_updates, snap.step) == (3, 0, 3)
    assert all(torch.equal(p, q) for p, q in zip(g0, trainer.G.parameters()))
    assert not all(torch.equal(p, q) for p, q in zip(d0, trainer.D.parameters()))
    d1 = [p.clone() for p in trainer.D.parameters()]
    snap = trainer.step_g_only(2)
    assert (snap.d_updates, snap.g_updates) == (3, 2)
    assert all(torch.equal(p, q) for p, q in zip(d1, trainer.D.parameters()))
    assert trainer.step(1).d_updates == 3 + trainer.config.d_steps


def test_k_discriminator_steps_per_generator_step():
    snap = GANTrainer(GANConfig(d_steps=4, **TINY), "cpu").step(3)
    assert (snap.d_updates, snap.g_updates) == (12, 3)


def test_a_huge_learning_rate_diverges_and_keeps_finite_weights():
    cfg = GANConfig(g_optimizer="sgd", d_optimizer="sgd", g_lr=1.0, d_lr=1.0, g_activation="linear",
                    d_activation="linear", loss="least_squares", seed=0, **{**TINY, "g_layers": 3, "d_layers": 3})
    trainer = GANTrainer(cfg, "cpu")
    snap = trainer.step(500)
    assert snap.diverged and trainer.diverged
    assert all(torch.isfinite(p).all() for p in [*trainer.G.parameters(), *trainer.D.parameters()])
    assert math.isfinite(snap.d_loss) or math.isnan(snap.d_loss)
    assert trainer.step(5).step == snap.step  # stays stopped until the config changes
    assert trainer.apply(cfg.replace(g_lr=0.001, d_lr=0.001)) == [] and not trainer.diverged


def test_hot_changes_keep_the_game_and_structural_ones_are_named():
    trainer = GANTrainer(GANConfig(**TINY), "cpu")
    trainer.step(3)
    assert trainer.apply(trainer.config.replace(d_lr=0.01, loss="minimax", d_steps=3)) == []
    assert trainer.opt_d.param_groups[0]["lr"] == 0.01 and trainer.step_count == 3
    assert trainer.apply(trainer.config.replace(target="spiral", g_width=16)) == ["target", "g_width"]


def test_every_target_samples_inside_the_plane_and_the_mixture_modes_are_where_they_should_be():
    for name in TARGETS:
        extra = {"points": [[0, 0], [1, 1], [-1, 0.5]]} if name == "drawn" else {}
        xy = sample_target(GANConfig(target=name, spread=0.02, **extra), 500, torch.Generator().manual_seed(0))
        assert xy.shape == (500, 2) and xy.abs().max() < 2.0, name
    cfg = GANConfig(target="mixture", n_modes=5, spread=0.0)
    xy = sample_target(cfg, 400, torch.Generator().manual_seed(0)).numpy()
    centres = mixture_centres(5)
    assert np.min(np.linalg.norm(xy[:, None] - centres[None], axis=2), axis=1).max() < 1e-5
    trainer = GANTrainer(cfg, "cpu")
    assert trainer.modes_covered(torch.from_numpy(xy)) == 5
    assert trainer.modes_covered(torch.from_numpy(np.repeat(centres[:2], 50, 0)).float()) == 2


def test_frame_has_the_documented_shapes():
    frame = GANTrainer(GANConfig(noise_dim=3, **TINY), "cpu").frame(resolution=20, manifold_size=7)
    assert frame.heatmap.shape == (20, 20) and 0 <= frame.heatmap.min() and frame.heatmap.max() <= 1
    assert frame.real.shape == frame.fake.shape == frame.arrows.shape == (300, 2)
    assert frame.manifold.shape == (7, 7, 2)
    assert GANTrainer(GANConfig(noise_dim=1, **TINY), "cpu").manifold(9).shape == (9, 1, 2)


@pytest.mark.parametrize("bad, field", [
    ({"target": "square"}, "target"), ({"n_modes": 1}, "n_modes"), ({"d_steps": 0}, "d_steps"),
    ({"loss": "wasserstein"}, "loss"), ({"g_lr": 0}, "g_lr"), ({"target": "drawn", "points": [[0, 0]]}, "points"),
    ({"points": [[0, 3]]}, "points[0]"), ({"noise_type": "cauchy"}, "noise_type"), ({"d_width": 1000}, "d_width"),
    ({"colour": "red"}, "colour"),
])
def test_bad_configs_name_the_field(bad, field):
    with pytest.raises(ConfigError) as e:
        GANConfig.from_dict(bad)
    assert e.value.field == field


def test_config_round_trips_and_the_cli_trains_a_gan(tmp_path):
    cfg = GANConfig(target="drawn", points=[[0.0, 0.0], [1.0, 1.0], [-1.0, 0.5]], loss="least_squares", **TINY)
    assert GANConfig.from_json(cfg.to_json()) == cfg
    assert config_from_dict(cfg.to_dict()) == cfg
    path = tmp_path / "gan.json"
    path.write_text(cfg.to_json())
    out = subprocess.run([sys.executable, "-m", "engine", "train", str(path), "--steps", "20", "--every", "10",
                          "--device", "cpu"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["step"] for line in lines[:-1]] == [10, 20] and lines[-1]["done"]
    assert {"d_loss", "g_loss", "mmd", "d_real", "d_fake"} <= set(lines[0])


# ---------- digits ----------
def test_digits_are_sklearn_pixels_over_16():
    from sklearn.datasets import load_digits
    pixels = load_digit_pixels()
    assert pixels.shape == (1797, 64) and pixels.min() == 0 and pixels.max() == 1
    assert np.allclose(pixels * 16, load_digits().data)


def test_digits_gan_is_deterministic_resumable_and_its_samples_are_images():
    pixels = load_digit_pixels()
    cfg = DigitsGANConfig(hidden=32, noise_dim=8, batch_size=32, seed=4)
    a, b = DigitsGANTrainer(cfg, "cpu", pixels), DigitsGANTrainer(cfg, "cpu", pixels)
    a.step(4)
    snap_a = a.step(4, samples=True)
    snap_b = b.step(8, samples=True)
    assert snap_a.to_json_dict() == snap_b.to_json_dict()
    assert np.array_equal(snap_a.samples, snap_b.samples) and snap_a.samples.shape == (36, 8, 8)
    assert 0 <= snap_a.samples.min() and snap_a.samples.max() <= 1
    assert np.array_equal(a.sample_grid(), snap_a.samples)  # the grid is always the same fixed noise
    assert [s for s, _ in a.timeline][0] == 4
    nearest = a.nearest_real(pixels[:3].reshape(3, 8, 8))
    assert np.array_equal(nearest, pixels[:3].reshape(3, 8, 8))  # a real digit's nearest real digit is itself
    with pytest.raises(ConfigError) as e:
        DigitsGANConfig(lr=1.0)
    assert e.value.field == "lr"


def test_digits_gan_learns_the_ink_statistics():
    pixels = load_digit_pixels()
    trainer = DigitsGANTrainer(DigitsGANConfig(hidden=64, seed=0), "cpu", pixels)
    first = trainer.snapshot().mmd
    snap = trainer.step(300)
    assert snap.mmd < 0.6 * first, (first, snap.mmd)


def test_a_restored_digits_gan_goes_on_exactly_with_its_timeline():
    cfg = DigitsGANConfig(hidden=32, noise_dim=8, batch_size=32, seed=1, d_steps=2)
    game = DigitsGANTrainer(cfg, "cpu")
    game.snapshot()
    game.step(60)  # the timeline holds steps 0 and 60
    game.apply(DigitsGANConfig(**{**cfg.to_dict(), "lr": 0.001, "loss": "least_squares"}))
    back = DigitsGANTrainer.from_checkpoint(game.checkpoint_bytes(), "cpu")
    assert back.config == game.config and back.opt_d.param_groups[0]["lr"] == 0.001
    assert [s for s, _ in back.timeline] == [0, 60]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(back.timeline, game.timeline))
    assert back.step(70, samples=True).to_json_dict() == game.step(70, samples=True).to_json_dict()
    assert [s for s, _ in back.timeline] == [s for s, _ in game.timeline] == [0, 60, 130]
    for a, b in zip([*back.G.parameters(), *back.D.parameters()], [*game.G.parameters(), *game.D.parameters()]):
        assert torch.equal(a, b)
    assert json.dumps(back.history) == json.dumps(game.history)
