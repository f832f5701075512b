"""Take the GAN lab home: the 2-D game's notebook runs alone in a kernel of the project's Python
and prints the numbers GANTrainer reports for the same seed (the oracle: the notebook shares no
code with it at run time), its script does the same, the exporter refuses what it cannot export,
and the page offers the row, whose Load brings a saved game back or refuses a bad file in one line.
"""
import re
import sys
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

from engine.export import export
from engine.gan.config import GANConfig
from engine.gan.take_home import pieces
from engine.gan.trainer import GANTrainer
from tests.notebook_kernel import (ALLOWED_IMPORTS, assert_curve_matches, imported_modules, printed_lines, run_notebook,
                                   run_script, shown_html)

STEPS = 100
# Small and quick, yet every part of the game: a mixture (modes counted), two D updates a step,
# different optimisers for the two players.
NOTEBOOK_CONFIG = GANConfig(target="mixture", n_modes=4, g_width=16, d_width=16, g_layers=1, d_layers=2,
                            g_optimizer="momentum", g_lr=0.01, d_steps=2, batch_size=32, seed=3)
SCRIPT_CONFIG = GANConfig(target="drawn", points=[[0.5, 0.5], [-1.0, 0.2], [0.3, -1.5]], noise_type="uniform",
                          noise_dim=3, loss="least_squares", g_width=8, d_width=8, batch_size=16, seed=5)


def trainer_snapshots(config: GANConfig, steps: int, every: int) -> dict[int, dict]:
    """step -> GANTrainer's snapshot there, trained on one thread as the notebook's kernel runs."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = GANTrainer(config, "cpu")
        out = {}
        while trainer.step_count < steps:
            snap = trainer.step(min(every, steps - trainer.step_count))
            out[snap.step] = snap.to_json_dict()
        return out
    finally:
        torch.set_num_threads(before)


def test_the_notebook_plays_the_page_game_and_draws_both_clouds(kernel_root, tmp_path):
    nb = run_notebook(export(NOTEBOOK_CONFIG, "ipynb", STEPS), tmp_path, kernel_root)
    lines = printed_lines(nb)
    assert [line["step"] for line in lines] == list(range(1, STEPS + 1))
    assert {"d_loss", "g_loss", "d_real", "d_fake", "mmd", "modes_covered"} <= set(lines[0])
    assert_curve_matches(lines, trainer_snapshots(NOTEBOOK_CONFIG, STEPS, 1), min_reports=STEPS)
    html = shown_html(nb)
    assert "Plotly.newPlot" in html and "generated" in html and "D(x)" in html
    assert re.findall(r'<script[^>]*src="([^"]+)"', html) == []  # plotly.js inside: draws offline
    assert imported_modules(nb) - set(sys.stdlib_module_names) <= ALLOWED_IMPORTS


def test_the_digits_notebook_plays_the_dcgan_game_and_draws_its_digits(kernel_root, tmp_path):
    from engine.gan.digits import DigitsGANConfig, DigitsGANTrainer
    config = DigitsGANConfig(architecture="dcgan", hidden=16, batch_size=8, d_steps=2, loss="least_squares", seed=3)
    nb = run_notebook(export(config, "ipynb", STEPS), tmp_path, kernel_root)
    lines = printed_lines(nb)
    assert [line["step"] for line in lines] == list(range(1, STEPS + 1))
    assert {"d_loss", "g_loss", "d_real", "d_fake", "mmd"} <= set(lines[0])
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trainer = DigitsGANTrainer(config, "cpu")
        snapshots = {s.step: s.to_json_dict() for s in (trainer.step(1) for _ in range(STEPS))}
    finally:
        torch.set_num_threads(before)
    assert_curve_matches(lines, snapshots, min_reports=STEPS)
    html = shown_html(nb)
    assert "Plotly.newPlot" in html and "Generated digits" in html
    assert re.findall(r'<script[^>]*src="([^"]+)"', html) == []
    assert imported_modules(nb) - set(sys.stdlib_module_names) <= ALLOWED_IMPORTS


def test_the_script_prints_the_same_numbers_and_writes_the_plot(tmp_path):
    lines = run_script(export(SCRIPT_CONFIG, "py", 30), tmp_path)
    assert [line["step"] for line in lines] == list(range(1, 31))
    assert_curve_matches(lines, trainer_snapshots(SCRIPT_CONFIG, 30, 1), min_reports=30)
    assert (tmp_path / "gan_game.html").exists()


def test_the_export_reports_every_hundredth_and_stops_at_the_step_limit():
    text = export(GANConfig(max_steps=300), "py", 1000)
    assert "STEPS = 300" in text and "EVERY = 3" in text
    assert export(NOTEBOOK_CONFIG, "ipynb", 50) == export(NOTEBOOK_CONFIG, "ipynb", 50)  # the same file each time


@pytest.mark.parametrize("steps", [0, -3, 2.5, "100", True])
def test_bad_steps_are_refused_by_name(steps):
    with pytest.raises(ValueError, match="steps"):
        pieces(GANConfig(), steps)


def test_another_labs_config_is_refused_by_name():
    from engine.gan.digits import DigitsGANConfig
    from engine.gan.take_home import digits_pieces
    with pytest.raises(ValueError, match="GANConfig.*DigitsGANConfig"):
        pieces(DigitsGANConfig(), 10)
    with pytest.raises(ValueError, match="DigitsGANConfig.*GANConfig"):
        digits_pieces(GANConfig(), 10)
    with pytest.raises(ValueError, match="steps"):
        digits_pieces(DigitsGANConfig(), 0)


# ---- the page's row ----
PAGE = str(Path(__file__).resolve().parent.parent / "app_pages" / "gan" / "page.py")
LABELS = ["⬇ Download as notebook", "⬇ Download as script", "⬇ Save"]


def open_page() -> AppTest:
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as app.py sets it
    try:
        at = AppTest.from_file(PAGE, default_timeout=90)
        at.run()
    finally:
        torch.set_num_threads(before)
    assert not at.exception, [e.value for e in at.exception]
    return at


def upload(at: AppTest, name: str, data: bytes, key: str = "gan_upload") -> AppTest:
    at.file_uploader(key=key).upload(name, data, "application/octet-stream").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def saved_game(steps: int) -> tuple[bytes, GANTrainer]:
    """A game the page could have saved: the moons, minimax, other widths and learning rates, seed 7."""
    config = GANConfig(target="moons", loss="minimax", g_width=16, d_width=64, g_lr=0.001, d_lr=0.005, d_steps=2,
                       batch_size=64, seed=7)
    game = GANTrainer(config, "cpu")
    game.step(steps)
    return game.checkpoint_bytes(), game


def test_the_page_offers_notebook_script_save_and_load():
    at = open_page()
    labels = [b.proto.label for b in at.get("download_button")]
    assert all(label in labels for label in LABELS)
    assert at.file_uploader(key="gan_upload") is not None


def test_load_brings_a_saved_game_back_with_its_settings_and_address():
    at = open_page()
    data, game = saved_game(6)
    upload(at, "moons.pt", data)
    loaded = at.session_state.gan_run.trainer
    assert loaded.step_count == 6 and loaded.config == game.config
    assert (at.session_state.gan_target, at.session_state.gan_loss, at.session_state.gan_d_width,
            at.session_state.gan_k, at.session_state.global_seed) == ("moons", "minimax", 64, 2, 7)
    assert any("Loaded moons" in s.value and "step 6" in s.value and "seed 7" in s.value for s in at.success)
    assert at.query_params.get("target") in ("moons", ["moons"]) and "preset" not in at.query_params
    assert at.metric[0].value == "6"  # the step on screen is the loaded game's
    # The loaded game is the saved one: one more step on each gives the same numbers.
    assert loaded.step(1).to_json_dict() == game.step(1).to_json_dict()


def test_a_damaged_file_or_another_labs_checkpoint_is_one_line_and_the_game_stays():
    from engine.gan.digits import DigitsGANConfig, DigitsGANTrainer
    at = open_page()
    at.button(key="gan_run_step").click().run()
    before = at.session_state.gan_run
    digits = DigitsGANTrainer(DigitsGANConfig(hidden=32, batch_size=16), "cpu").checkpoint_bytes()
    for name, data in [("broken.pt", b"not a checkpoint at all"), ("digits.pt", digits)]:
        upload(at, name, data)
        errors = [e.value for e in at.error]
        assert len(errors) == 1 and errors[0].startswith(f"Could not load {name.replace('.', chr(92) + '.')}")
        assert "unchanged" in errors[0]
        assert at.session_state.gan_run is before and before.trainer.step_count == 1
    assert "digits GAN" in errors[0]  # what the file is, named


def test_the_digits_game_has_its_own_row_and_loads_a_saved_digits_game():
    from engine.gan.digits import DigitsGANConfig, DigitsGANTrainer
    at = open_page()
    at.session_state["gan_mode"] = "Digits"
    at.run()
    assert at.file_uploader(key="gan_digits_upload") is not None
    labels = [b.proto.label for b in at.get("download_button")]
    assert all(label in labels for label in LABELS)
    saved = DigitsGANTrainer(DigitsGANConfig(hidden=64, lr=0.001, seed=4), "cpu")
    saved.step(3)
    upload(at, "digits.pt", saved.checkpoint_bytes(), key="gan_digits_upload")
    loaded = at.session_state.gan_digits_run.trainer
    assert loaded.step_count == 3 and loaded.config == saved.config
    assert (at.session_state.gan_dg_hidden, at.session_state.gan_dg_lr, at.session_state.global_seed) == (64, 0.001, 4)
    assert any("Loaded digits" in s.value and "digits GAN at step 3" in s.value for s in at.success)
    # A game on the plane under the digits is refused, naming it.
    upload(at, "plane.pt", saved_game(2)[0], key="gan_digits_upload")
    assert len(at.error) == 1 and "2-D game's checkpoint" in at.error[0].value.replace("\\", "")
    assert at.session_state.gan_digits_run.trainer is loaded
