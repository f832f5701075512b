"""GAN lab: the minimax game between a generator and a discriminator, live on 2-D
distributions and on handwritten digits."""
import json

import numpy as np
import streamlit as st

from app_pages.common.address import read_address_once, write_address
from app_pages.common.controls import ask_before_replacing, play_pause_button, replace_allowed
from app_pages.common.guide import page_title
from app_pages.common.live_plotly import live_plotly
from app_pages.common.shell import app_device, ensure_global_seed
from app_pages.common.take_home import take_home_row
from app_pages.common.text import md_escape
from app_pages.gan.architecture import ARCHITECTURE_LABELS, DIGITS_APPEAR, WIDTH_HELP, architecture_note
from app_pages.gan.saving import SAVED_GAMES, autosave, forget_game, load_game, restore_saved_games
from app_pages.gan.state import (BATCH_SIZES, COLLAPSE_NOTE, DEFAULT_PRESET, DIGIT_LEARNING_RATES, DIGIT_MAX_K,
                                 DIGIT_NOISE_DIMS, DIGIT_WIDTHS, HEATMAP_RESOLUTION, LEARNING_RATES, LOSS_LABELS,
                                 MANIFOLD_SIZE, MAX_K, MAX_LAYERS, MAX_MODES, MAX_NOISE_DIM, MODES, NO_PRESET, PRESETS,
                                 SPEEDS, SPREADS, TARGET_LABELS, WIDTHS, LiveRun, add_point, config_from_widgets,
                                 default_widgets, digits_config_from_widgets, explain, fmt, heart, keep_widgets,
                                 preset_config, structural_fields, widgets_from_config, widgets_from_query,
                                 widgets_to_query)
from engine import ConfigError
from engine.core.registries import ACTIVATIONS, OPTIMIZERS
from engine.gan.dcgan import ARCHITECTURES
from engine.gan.digits import DigitsGANConfig, DigitsGANTrainer
from engine.gan.trainer import LOSS_VARIANTS, NOISE_TYPES, TARGETS, GANConfig, GANTrainer
from viz.gan import digits_figure, distance_figure, losses_figure, plane_figure, timeline_figure, verdict_figure

state = st.session_state
EXPORT_STEPS = 2000  # what a notebook of a game not yet played trains: about a minute, enough to see it converge

ensure_global_seed()
DEFAULTS = {**default_widgets(), "gan_speed": "10 steps per frame", "gan_show_real": True, "gan_show_fake": True,
            "gan_show_heat": True, "gan_show_arrows": True, "gan_show_manifold": False}
# Streamlit forgets a widget's value when another page is shown; writing it back keeps it.
for key in DEFAULTS:
    if key in state:
        state[key] = state[key]
if "gan_address_read" not in state and not any(key in state for key in SAVED_GAMES):  # the session's first visit
    restore_saved_games()
# The session's first visit: a shared address may carry a setup (a preset, both games, the seed).
address_problems = read_address_once(state, st.query_params, "gan_address_read", widgets_from_query)
for key, value in DEFAULTS.items():
    state.setdefault(key, value)
state.setdefault("gan_points", heart())


# Button callbacks take the state they were drawn for: while the live view ticks, one click
# can arrive twice (with a tick and with the rerun it asks for), and a toggle would undo itself.
def on_preset() -> None:
    if state.gan_preset in PRESETS:
        config = preset_config(state.gan_preset, state.global_seed, state.gan_points)
        state.update(widgets_from_config(config))
        if config.target == "drawn":
            state.gan_points = config.points  # the heart again, if the drawing was cleared
        state.gan_run_replace_ok = True  # picking a preset is asking for its game


def on_play_pause(run_key: str, play: bool) -> None:
    run = state.get(run_key)
    if run is not None:
        run.play() if play else run.pause()


def on_step(run_key: str, what: str, step_drawn: int, n: int = 1) -> None:
    run = state.get(run_key)
    if run is not None and (run.playing or run.trainer.step_count == step_drawn):
        run.step(what, n)


def on_reset(run_key: str) -> None:
    state.pop(run_key, None)
    forget_game(run_key)  # a reload after Reset brings the new game, not the one thrown away


def on_clear_points() -> None:
    state.gan_points = []
    state.gan_run_replace_ok = True  # a new drawing is asking for a game on it


def control_bar(d_and_g: bool) -> list:
    """The row of controls: speed and preset now, the buttons once the run is up to date
    (control_buttons), so that a Step click right after a new game acts on the new one."""
    bar = st.columns([1, 1, 1, 1, 1, 2.2, 2.6] if d_and_g else [1, 1, 1, 4.8])
    if d_and_g:
        bar[5].selectbox("Speed", list(SPEEDS), key="gan_speed", label_visibility="collapsed")
        bar[6].selectbox("Preset", [NO_PRESET] + list(PRESETS), key="gan_preset", on_change=on_preset,
                         label_visibility="collapsed")
    return bar


def control_buttons(bar: list, run_key: str, run: LiveRun, d_and_g: bool) -> None:
    playing = run.playing
    drawn = run.trainer.step_count
    play_pause_button(bar[0], run_key, playing, on_play_pause, args=(run_key, not playing), help="Train live")
    if d_and_g:
        bar[1].button("⏭ Step", key=f"{run_key}_step", on_click=on_step, args=(run_key, "both", drawn),
                      use_container_width=True, help="One step: k discriminator updates, then one generator update")
    else:
        bar[1].button("⏭ +100 steps", key=f"{run_key}_step", on_click=on_step, args=(run_key, "both", drawn, 100),
                      use_container_width=True, help="100 steps (k discriminator updates and one generator update "
                                                     "each), then pause")
    if d_and_g:
        bar[2].button("D only", key="gan_step_d", on_click=on_step, args=(run_key, "d", drawn, 10),
                      use_container_width=True, help="10 discriminator updates, generator frozen: "
                                                     "watch the background sharpen around the fakes")
        bar[3].button("G only", key="gan_step_g", on_click=on_step, args=(run_key, "g", drawn, 10),
                      use_container_width=True, help="10 generator updates, discriminator frozen: "
                                                     "watch the fakes slide along the arrows")
    bar[4 if d_and_g else 2].button("↺ Reset", key=f"{run_key}_reset", on_click=on_reset, args=(run_key,),
                                    use_container_width=True, help="New initial weights, history cleared")


def plane_widgets_of(config_json: str) -> dict:
    """The widgets' values (and the seed) for a game on the plane: "Keep the trained one" puts them back."""
    config = GANConfig.from_dict(json.loads(config_json))
    return {**keep_widgets(config), "global_seed": config.seed}


def digits_widgets_of(config_json: str) -> dict:
    """The same for the game on digits."""
    config = DigitsGANConfig.from_dict(json.loads(config_json))
    return {**keep_widgets(config), "global_seed": config.seed}


def keep_or_rebuild(run_key: str, config, make) -> LiveRun:
    """Hot changes go to the running trainer. A structural one starts a new game (still playing
    if it was) at once when the game has not trained yet or the user asked for it (a preset, a
    drawn point); a trained game is kept, and the page asks, until the user chooses."""
    run: LiveRun | None = state.get(run_key)
    replace_ok = replace_allowed(f"{run_key}_replace_ok", config.to_json())
    if run is None:
        run = state[run_key] = LiveRun(make(config))
    elif (changed := structural_fields(run.trainer.config, config)) and run.has_trained and not replace_ok:
        run.apply_hot(config)
        ask_before_replacing(None, changed, f"{run.trainer.step_count:,} steps", run_key, wanted_json=config.to_json(),
                             running_json=run.trainer.config.to_json(), flag_key=f"{run_key}_replace_ok", thing="game",
                             widgets_for=digits_widgets_of if run_key == "gan_digits_run" else plane_widgets_of)
    else:
        changed = run.trainer.apply(config)
        if changed:
            # The same live view goes on (playing if it was): its pacer, with what it measured, goes with it.
            run = state[run_key] = LiveRun(make(config), playing=run.playing, pace=run.pace)
            forget_game(run_key)  # the trained one was thrown away: a reload must not bring it back
            st.toast(f"New game: {', '.join(changed)} changed")
    return run


page_title("🎭 GAN lab", "gan")
st.caption("Two networks play a game. The **generator** G turns random noise z into points; the **discriminator** D "
           "says how likely a point is real. D is trained to tell real from generated, G to fool D: "
           "min_G max_D E[log D(x)] + E[log(1 − D(G(z)))]. Green points are real, purple ones generated, and the "
           "background is D's opinion — green where it says *real*, purple where it says *fake*.")
for problem in address_problems:  # the address's text is the visitor's, shown as text
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")
for kind, text in state.pop("gan_notices", []):  # shown once
    (st.success if kind == "success" else st.warning)(text)
mode = st.segmented_control("Lab", MODES, key="gan_mode", label_visibility="collapsed") or MODES[0]


# ================= the 2-D game =================
def plane_lab() -> None:
    run: LiveRun | None = state.get("gan_run")
    bar = control_bar(d_and_g=True)
    c = st.columns([1.3, 0.9, 1, 1.4, 0.9, 1])
    c[0].selectbox("Target", TARGETS, key="gan_target", format_func=TARGET_LABELS.get)
    if state.gan_target == "mixture":
        c[1].slider("Modes", 2, MAX_MODES, key="gan_modes")
    c[2].select_slider("Spread", SPREADS, key="gan_spread",
                       help="Std of the gaussian noise around the target's shape")
    c[3].selectbox("Loss", LOSS_VARIANTS, key="gan_loss", format_func=LOSS_LABELS.get,
                   help="Applied to the running game at once")
    c[4].slider("k (D steps)", 1, MAX_K, key="gan_k", help="Discriminator updates per generator update")
    c[5].select_slider("Batch", BATCH_SIZES, key="gan_batch")
    for net, name in (("g", "Generator"), ("d", "Discriminator")):
        with st.container(border=True):
            w = st.columns([1.1, 1.3, 1.1, 1.2, 1.2, 1.6] + ([1.2, 1.2] if net == "g" else [2.4]),
                           vertical_alignment="center")
            w[0].markdown(f"**{name}**")
            w[1].slider("Hidden layers", 1, MAX_LAYERS, key=f"gan_{net}_layers")
            w[2].select_slider("Width", WIDTHS, key=f"gan_{net}_width")
            w[3].selectbox("Activation", list(ACTIVATIONS), key=f"gan_{net}_act")
            w[4].selectbox("Optimiser", OPTIMIZERS, key=f"gan_{net}_opt")
            w[5].select_slider("Learning rate", sorted(set(LEARNING_RATES + [state[f"gan_{net}_lr"]])),
                               key=f"gan_{net}_lr", help="Applied to the running game at once")
            if net == "g":
                w[6].slider("Noise dim", 1, MAX_NOISE_DIM, key="gan_noise_dim", help="Dimension of z")
                w[7].selectbox("Noise", NOISE_TYPES, key="gan_noise_type", help="gaussian N(0, 1) or uniform U(-1, 1)")

    problem = None
    try:
        config = config_from_widgets(state, state.global_seed)
    except ConfigError as e:
        problem = str(e)
        config = run.trainer.config if run else preset_config(DEFAULT_PRESET, state.global_seed)
    if problem and state.gan_target == "drawn" and len(state.gan_points) < 3:
        st.info(f"You have {len(state.gan_points)} point(s): click the plane to add at least 3. "
                "Until then the last game goes on.", icon="✏️")
    elif problem:
        st.error(f"This setting is not possible: {problem}. The last valid game goes on.", icon="🚫")
    run = keep_or_rebuild("gan_run", config, lambda cfg: GANTrainer(cfg, app_device()))
    control_buttons(bar, "gan_run", run, d_and_g=True)
    plane_view()
    take_home("gan_run", run, "gan")


def take_home(run_key: str, run: LiveRun, key: str) -> None:
    """The game's notebook, script, Save and Load, under its view."""
    def make(fmt: str) -> str:
        # Built when clicked, from the game as it is then (it may have played on); Streamlit builds the
        # file outside the page's run, where session_state cannot be read: `run` is held instead.
        from engine.export import export  # the exporters are imported on a click, not on every run
        return export(run.trainer.config, fmt, run.trainer.step_count or EXPORT_STEPS)

    with st.expander("Take it home: notebook, script, save and load"):
        take_home_row(run.trainer.config, key=key, what=SAVED_GAMES[run_key][1],
                      steps=run.trainer.step_count or EXPORT_STEPS,
                      checkpoint=run.trainer.checkpoint_bytes if run.trainer.step_count else None,
                      on_load=lambda data: load_game(run_key, data), make=make)


@st.fragment(run_every=state.gan_run.pace.run_every(state.gan_run.playing) if state.get("gan_run") else None)
def plane_view() -> None:
    run: LiveRun = state.gan_run
    was_playing = run.playing
    with run.pace.frame(run.playing) as frame:
        if run.pace.cut_short():
            st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
        snap = run.tick(SPEEDS[state.gan_speed])
        frame.trained()
        clicked = draw_plane_view(run, snap)
    if clicked:
        st.rerun()  # a new game on the drawing: redraw the whole page (after the frame, which was drawn in full)
    if was_playing and not run.playing:
        st.rerun()  # stopped by itself: redraw the Play button
    if run.playing and run.pace.interval_is_stale():
        st.rerun()  # the live view again with an interval that fits its frames


def draw_plane_view(run: LiveRun, snap) -> bool:
    """The 2-D game's live view; True when a click on the plane added a point to the drawing."""
    if run.message:
        st.warning(run.message, icon="⏸")
    trainer, config = run.trainer, run.trainer.config
    m = st.columns(7)
    m[0].metric("Step", f"{snap.step:,}", help=f"{snap.d_updates:,} D updates, {snap.g_updates:,} G updates")
    m[1].metric("D loss", fmt(snap.d_loss))
    m[2].metric("G loss", fmt(snap.g_loss))
    m[3].metric("D(real) / D(fake)", f"{snap.d_real:.2f} / {snap.d_fake:.2f}")
    m[4].metric("MMD²", fmt(snap.mmd), help="Squared maximum mean discrepancy (RBF kernel) between 300 fixed "
                                            "real points and G of 300 fixed noise draws")
    m[5].metric("Modes covered", "—" if snap.modes_covered is None else f"{snap.modes_covered} / {config.n_modes}")
    m[6].metric("Steps / s", f"{run.steps_per_second:,.1f}" if run.playing else "—")

    frame = trainer.frame(HEATMAP_RESOLUTION, MANIFOLD_SIZE)
    left, right = st.columns([1.25, 1], gap="medium")
    with left:
        t = st.columns(5)
        show = {k: t[i].toggle(label, key=f"gan_show_{k}") for i, (k, label) in enumerate(
            [("real", "Real"), ("fake", "Fake"), ("heat", "D(x)"), ("arrows", "Arrows"), ("manifold", "Manifold")])}
        clickable = state.gan_target == "drawn"
        fig = plane_figure(frame.heatmap if show["heat"] else None, frame.real if show["real"] else None,
                           frame.fake if show["fake"] else None, frame.arrows if show["arrows"] else None,
                           frame.manifold if show["manifold"] else None,
                           drawn=np.array(state.gan_points, dtype=float).reshape(-1, 2) if clickable else None,
                           clickable=clickable)
        clicked = live_plotly(fig, key="gan_plane", on_click=add_clicked_point if clickable else None)
        if clickable:
            c1, c2 = st.columns([3, 1])
            c1.caption(f"{len(state.gan_points)} points drawn. Click the plane to add one; each change starts a "
                       "new game on your drawing. The drawing is not in the page's address: a copied link opens "
                       "the heart.")
            c2.button("Clear points", key="gan_clear", on_click=on_clear_points)
        st.caption("Arrows: where each generated point is pushed by G's next update (−∂ G loss / ∂x; the longest "
                   "is scaled to a fixed length). The manifold is G applied to a grid of noise: where its cells "
                   "crowd together, G puts much probability.")
    with right:
        st.markdown("**What you see**")
        st.markdown(" ".join(explain(snap, config, frame.arrows)))
        if config.target == "mixture":
            st.info(COLLAPSE_NOTE, icon="💡")
        live_plotly(losses_figure(trainer.history, config.loss), key="gan_losses")
        st.caption("Dotted: each loss when D says ½ everywhere, as at the game's equilibrium. The losses do not "
                   "fall to 0 as in supervised learning: each player's gain is the other's loss.")
    c1, c2 = st.columns(2, gap="medium")
    with c1:
        live_plotly(verdict_figure(trainer.history), key="gan_verdict")
        st.caption("D's mean verdict on real and on generated points; both tend to ½ as G catches up.")
    with c2:
        live_plotly(distance_figure(trainer.history), key="gan_mmd")
        st.caption("The distance between real and generated samples (squared MMD, RBF kernel): it should fall, "
                   "though not steadily — GAN training oscillates.")
    autosave("gan_run", run)
    return bool(clickable and clicked)


def add_clicked_point(point: dict) -> None:
    """A click on the plane adds a point to the drawing; each one starts a new game on it."""
    state.gan_points = add_point(state.gan_points, point["x"], point["y"])
    state.gan_run_replace_ok = True


# ================= digits =================
def digits_lab() -> None:
    run: LiveRun | None = state.get("gan_digits_run")
    st.markdown("The same game in 64 dimensions: G draws 8 × 8 images of handwritten digits (scikit-learn's 1,797 "
                "digits, pixels scaled to 0..1), D tells them from real ones. The grid below always shows G of "
                "the **same 36 noise vectors**, so you watch the same samples sharpen into digits.")
    bar = control_bar(d_and_g=False)
    c = st.columns(6)
    c[0].selectbox("Architecture", ARCHITECTURES, key="gan_dg_arch", format_func=ARCHITECTURE_LABELS.get,
                   help="Multi-layer perceptrons, or DCGAN's transposed convolutions and CNN")
    c[1].select_slider("Learning rate", DIGIT_LEARNING_RATES, key="gan_dg_lr",
                       help="Both players; applied to the running game at once")
    c[2].slider("k (D steps)", 1, DIGIT_MAX_K, key="gan_dg_k")
    c[3].selectbox("Loss", LOSS_VARIANTS, key="gan_dg_loss", format_func=LOSS_LABELS.get)
    c[4].select_slider("Noise dim", DIGIT_NOISE_DIMS, key="gan_dg_noise")
    c[5].select_slider("Hidden width", DIGIT_WIDTHS, key="gan_dg_hidden", help=WIDTH_HELP)
    try:
        config = digits_config_from_widgets(state, state.global_seed)
    except ConfigError as e:
        st.error(f"This setting is not possible: {e}.", icon="🚫")
        config = run.trainer.config if run else DigitsGANConfig(seed=state.global_seed)
    st.caption(architecture_note(config))
    if run is None:
        with st.spinner("Loading the digits…"):
            run = keep_or_rebuild("gan_digits_run", config, lambda cfg: DigitsGANTrainer(cfg, app_device()))
    else:
        run = keep_or_rebuild("gan_digits_run", config, lambda cfg: DigitsGANTrainer(cfg, app_device()))
    control_buttons(bar, "gan_digits_run", run, d_and_g=False)
    digits_view()
    take_home("gan_digits_run", run, "gan_digits")


@st.fragment(run_every=state.gan_digits_run.pace.run_every(state.gan_digits_run.playing)
             if state.get("gan_digits_run") else None)
def digits_view() -> None:
    run: LiveRun = state.gan_digits_run
    was_playing = run.playing
    with run.pace.frame(run.playing) as frame:
        if run.pace.cut_short():
            st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
        snap = run.tick()
        frame.trained()
        draw_digits_view(run, snap)
    if was_playing and not run.playing:
        st.rerun()  # stopped by itself: redraw the Play button
    if run.playing and run.pace.interval_is_stale():
        st.rerun()  # the live view again with an interval that fits its frames


def draw_digits_view(run: LiveRun, snap) -> None:
    if run.message:
        st.warning(run.message, icon="⏸")
    trainer = run.trainer
    m = st.columns(5)
    m[0].metric("Step", f"{snap.step:,}")
    m[1].metric("D loss", fmt(snap.d_loss))
    m[2].metric("G loss", fmt(snap.g_loss))
    m[3].metric("MMD²", fmt(snap.mmd), help="Real against generated images, RBF kernel in pixel space")
    m[4].metric("Steps / s", f"{run.steps_per_second:,.1f}" if run.playing else "—")
    samples = trainer.sample_grid()
    left, mid, right = st.columns([1, 1, 1.2], gap="medium")
    with left:
        live_plotly(digits_figure(samples, 6, title=f"G(z) for 36 fixed z, step {snap.step:,}"),
                    key="gan_digit_grid")
    with mid:
        live_plotly(digits_figure(trainer.nearest_real(samples), 6, title="The closest real digit to each"),
                    key="gan_digit_nearest")
        st.caption("If a sample matched its nearest real digit pixel for pixel, G would be copying the data; "
                   "similar but not equal means it generates.")
    with right:
        live_plotly(timeline_figure(trainer.timeline), key="gan_digit_timeline")
        st.caption("The first 8 fixed-noise samples at steps 0, 50, 100, 200, 400, … : noise, then blobs, then "
                   f"strokes, then digits. Digits appear {DIGITS_APPEAR[trainer.config.architecture]}.")
    c1, c2 = st.columns(2, gap="medium")
    with c1:
        live_plotly(losses_figure(trainer.history, trainer.config.loss), key="gan_digit_losses")
    with c2:
        live_plotly(distance_figure(trainer.history, key="gan-digit-mmd"), key="gan_digit_mmd")
        st.caption("Squared MMD between 300 real digits and G of 300 fixed noise vectors: lower is closer.")
    autosave("gan_digits_run", run)


if mode == MODES[0]:
    plane_lab()
else:
    digits_lab()
write_address(st.query_params, widgets_to_query(state, state.global_seed))  # copy the address to share this setup

with st.expander("Limits, and why GANs are hard to train"):
    st.markdown(
        "- The plane is [−2, 2]²; D is drawn on a 48 × 48 grid and 300 fixed real and generated points, so a frame "
        "stays cheap. Drawn targets hold at most 500 points.\n"
        "- **No loss curve tells you when a GAN is done**: both losses hover around their equilibrium values while "
        "the samples improve or collapse. Look at the samples and a distance such as the MMD.\n"
        "- **Minimax** is the game as written; early in training D rejects the fakes easily, log(1 − D(G(z))) "
        "saturates and G's gradient vanishes. **Non-saturating** (Goodfellow et al., 2014) maximises log D(G(z)) "
        "instead: the same fixed point, strong gradients. **Least squares** (Mao et al., 2017) replaces the log "
        "loss with squared errors to targets 1 (real) and 0 (generated).\n"
        "- Adam runs with β₁ = 0.5, as in DCGAN (Radford et al., 2016): with 0.9 each player overshoots the "
        "other's move and the game oscillates more.\n"
        "- The digits GAN is small: an MLP (two hidden layers each) or an 8 × 8 DCGAN. The MLP's digits are "
        "blurrier and need a minute or two on a busy CPU; the DCGAN trains about a quarter as many steps per "
        "second but draws digits in a few hundred steps.")
