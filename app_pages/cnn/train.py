"""The Convolutions page's "Train a CNN" tab: the network's settings, Play / Step / Reset, and the live
view (curves, filters, feature maps with receptive fields, saliency, confusion, mistakes, the pad)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from app_pages.cnn.runs import CNNRun
from app_pages.cnn.saving import load_cnn
from app_pages.cnn.state import (BATCH_SIZES, DEFAULT_PRESET, DILATIONS, DROPOUTS, HEAD_LABELS, KERNELS, KIND_LABELS,
                                 LEARNING_RATES, NO_PRESET, PADDINGS, POOL_EVERY, POOL_LABELS, PRESET_LABELS, SAVE_NAME,
                                 STEP_LIMITS, STRIDES, config_from_widgets, drawn_input, fmt, fmt_percent,
                                 preset_widgets, widgets_from_config)
from app_pages.common.controls import ask_before_replacing, play_pause_button, replace_allowed
from app_pages.common.draw_pad import draw_pad
from app_pages.common.live_plotly import live_plotly
from app_pages.common.saved_runs import forget_run, save_run
from app_pages.common.shell import app_device
from app_pages.common.take_home import take_home_row
from engine import ConfigError
from engine.cnn.config import CNNConfig, preset, structural_changes
from engine.core.registries import ACTIVATIONS, OPTIMIZERS
from viz.cnn import (confusion_figure, curves_figure, digit_figure, digit_saliency_figure, digits_row_figure,
                     maps_figure, probabilities_figure)

state = st.session_state
STEP_BUTTON_STEPS = 50
EXPORT_STEPS = 300  # what the notebook and the script train before anything is trained here (no step limit)


def on_preset() -> None:
    if state.cv_preset in PRESET_LABELS:
        state.update(preset_widgets(state.cv_preset))
        state.cv_replace_ok = True  # picking a preset is asking for its network


def widgets_of(config_json: str) -> dict:
    """The widgets' values (and the seed) for a config: "Keep the trained one" puts them back."""
    config = CNNConfig.from_json(config_json)
    return {**widgets_from_config(config), "global_seed": config.seed}


def on_play_pause(play: bool) -> None:
    run = state.get("cv_run")
    if run is not None:
        run.play() if play else run.pause()


def on_step(step_drawn: int) -> None:
    run = state.get("cv_run")
    if run is not None and (run.playing or run.trainer.step_count == step_drawn):
        run.pause()
        run.step(STEP_BUTTON_STEPS)


def on_reset() -> None:
    state.pop("cv_run", None)
    forget_run(SAVE_NAME)  # a reload after Reset brings the new network, not the one thrown away


def save_cnn(checkpoint: bytes) -> None:
    state.cv_save_problem = save_run(SAVE_NAME, checkpoint)


def settings() -> None:
    """The network's widgets (their values live in session state under cv_*)."""
    mlp = state.cv_kind == "mlp"
    c = st.columns([2.2, 1.4, 1.6, 1.6])
    c[0].selectbox("Preset", [*PRESET_LABELS, NO_PRESET], key="cv_preset", on_change=on_preset,
                   format_func=lambda name: PRESET_LABELS.get(name, "Custom (your settings)"))
    c[1].selectbox("Network", list(KIND_LABELS), key="cv_kind", format_func=KIND_LABELS.get)
    c[2].text_input("Conv layers' channels", key="cv_channels", disabled=mlp,
                    help="Output channels of each conv layer, comma-separated: 8, 16, 32 is three layers (1–6 "
                         "layers of 1–64 channels)")
    c[3].text_input("MLP hidden widths", key="cv_mlp_hidden", disabled=not mlp,
                    help="Units of each hidden layer of the dense network, comma-separated (1–4 layers of 1–512)")
    c = st.columns(6)
    c[0].selectbox("Kernel", KERNELS, key="cv_kernel", format_func=lambda k: f"{k}×{k}", disabled=mlp)
    c[1].selectbox("Padding", PADDINGS, key="cv_padding", disabled=mlp, help="Zeros around each conv layer's input")
    c[2].selectbox("Stride", STRIDES, key="cv_stride", disabled=mlp)
    c[3].selectbox("Dilation", DILATIONS, key="cv_dilation", disabled=mlp,
                   help="Gaps between the kernel's taps: a 3×3 kernel with dilation 2 spans 5×5 cells")
    c[4].selectbox("Pooling", list(POOL_LABELS), key="cv_pool", format_func=POOL_LABELS.get, disabled=mlp)
    c[5].selectbox("Pool after every", POOL_EVERY, key="cv_pool_every", disabled=mlp or state.cv_pool == "none",
                   format_func=lambda n: f"{n} conv layer{'s' if n > 1 else ''}")
    c = st.columns(6)
    c[0].selectbox("Head", list(HEAD_LABELS), key="cv_head", format_func=HEAD_LABELS.get, disabled=mlp,
                   help="How the last maps become 10 scores: all their numbers into a dense layer, or each "
                        "channel's largest (or mean) value over the whole map")
    c[1].number_input("Dense units", 0, 512, key="cv_dense", disabled=mlp,
                      help="A hidden dense layer in the head; 0 goes straight to the 10 classes")
    c[2].selectbox("Activation", list(ACTIVATIONS), key="cv_activation")
    with c[3]:
        st.toggle("Batch norm", key="cv_batch_norm", help="Normalise each layer's outputs over the batch")
    c[4].select_slider("Dropout", DROPOUTS, key="cv_dropout", help="Applied to the running network at once")
    c[5].selectbox("Optimiser", OPTIMIZERS, key="cv_optimizer")
    c = st.columns([2, 2, 1.6, 2.4])
    c[0].select_slider("Learning rate", LEARNING_RATES, key="cv_lr", help="Applied to the running network at once")
    c[1].select_slider("Batch size", BATCH_SIZES, key="cv_batch", help="Applied to the running network at once")
    c[2].selectbox("Stop after", STEP_LIMITS, key="cv_max_steps",
                   format_func=lambda n: f"{n:,} steps" if n else "no limit")


def current_run() -> CNNRun:
    """The run the widgets describe: built, kept with the hot settings, or replaced (asking first)."""
    run: CNNRun | None = state.get("cv_run")
    try:
        config = config_from_widgets(state, state.global_seed)
    except ConfigError as e:
        st.error(f"This setting is not possible: {e}. The last valid network keeps running.", icon="🚫")
        config = run.trainer.config if run else preset(DEFAULT_PRESET, state.global_seed)
    replace_ok = replace_allowed("cv_replace_ok", config.to_json())
    if run is None:
        with st.spinner("Building the network…"):
            run = state.cv_run = CNNRun.build(config, app_device())
    elif (changed := structural_changes(run.trainer.config, config)) and run.trainer.step_count >= 1 \
            and not replace_ok:
        run.apply_hot(config)
        ask_before_replacing(None, changed, f"{run.trainer.step_count:,} steps", "cv", wanted_json=config.to_json(),
                             running_json=run.trainer.config.to_json(), flag_key="cv_replace_ok",
                             widgets_for=widgets_of)
    elif run.apply(config):
        changed = structural_changes(run.trainer.config, config)
        run = state.cv_run = CNNRun.build(config, app_device(), playing=run.playing)
        forget_run(SAVE_NAME)  # the trained one was thrown away: a reload must not bring it back
        st.toast(f"New network: {', '.join(changed)} changed")
    return run


def train_section() -> None:
    settings()
    run = current_run()
    bar = st.columns([1.1, 1.1, 1.1, 4.7])
    play_pause_button(bar[0], "cv", run.playing, on_play_pause, help="Train live")
    bar[1].button(f"⏭ {STEP_BUTTON_STEPS} steps", key="cv_step", on_click=on_step, args=(run.trainer.step_count,),
                  width="stretch", help=f"Train exactly {STEP_BUTTON_STEPS} optimisation steps")
    bar[2].button("↺ Reset", key="cv_reset", on_click=on_reset, width="stretch",
                  help="New initial weights, history cleared")
    bar[3].caption(f"{run.trainer.param_count():,} parameters · " + describe_network(run.trainer))
    live_view(run.playing)
    take_home(run.trainer)


def take_home(trainer) -> None:
    st.subheader("Take it home")
    st.caption("The notebook rebuilds this network in plain PyTorch, one step a cell with what it does and why, "
               "trains it as many steps as trained here and prints the loss and accuracy this tab shows for the "
               "seed, moved digits included; the script is the same code as one file. Save keeps this run "
               "(weights, optimiser, progress) to Load here later.")
    steps = trainer.step_count or trainer.config.train.max_steps or EXPORT_STEPS
    take_home_row(trainer.config, key="cnn", what="network", steps=steps,
                  checkpoint=trainer.checkpoint_bytes if trainer.step_count else None, on_load=load_cnn)


def describe_network(trainer) -> str:
    """conv1 8@10×10 → conv2 16@12×12 → … → 10 classes."""
    if not trainer.stages:
        widths = trainer.config.model.mlp_hidden
        return "64 pixels → " + " → ".join(f"{w} units" for w in widths) + " → 10 classes"
    maps = [f"{s.name} {s.channels}@{s.size}×{s.size}" for s in trainer.stages if s.kind in ("conv", "pool",
                                                                                             "global_pool")]
    return " → ".join(["8×8 digit", *maps, "10 classes"])


def on_map_click(point: dict, stage: int, cols: int, side: int) -> None:
    """A click on the tiled feature maps: which map, and which cell of it."""
    run = state.get("cv_run")
    if run is None or point.get("x") is None or point.get("y") is None:
        return
    x, y = int(round(point["x"])), int(round(point["y"]))
    if x % (side + 1) == side or y % (side + 1) == side:
        return  # the gap between two maps
    run.click(stage, y % (side + 1), x % (side + 1))


def live_view(playing: bool) -> None:
    run: CNNRun = state.cv_run

    @st.fragment(run_every=run.pace.run_every(run.playing))
    def frame() -> None:
        run: CNNRun = state.cv_run
        with run.pace.frame(run.playing) as measured:
            if run.pace.cut_short():
                st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
            snap = run.tick()  # trains, and evaluates in the frames planned for it (CNNRun.plan_frames)
            measured.trained()
            draw_frame(run, snap)
        if not run.playing and playing:
            st.rerun()  # stopped by itself: redraw the Play button
        if run.playing and run.pace.interval_is_stale():
            st.rerun()  # draw the live view again with a frame interval that fits the frames

    frame()


def draw_frame(run: CNNRun, snap) -> None:
    """Everything the live view shows of one frame: the numbers, the curves, inside the network, the
    mistakes and the pad."""
    trainer = run.trainer
    if run.message:
        st.warning(run.message, icon="⏸")
    m = st.columns(6)
    # Step and epoch move every frame; loss and accuracy are the last evaluation's (CNNRun.snapshot).
    m[0].metric("Step", f"{trainer.step_count:,}")
    m[1].metric("Epoch", f"{trainer.epoch:,}")
    m[2].metric("Test accuracy", fmt_percent(snap.test_accuracy))
    m[3].metric("Shifted by 1 px", fmt_percent(snap.shifted_test_accuracy),
                help="Test accuracy on the test digits moved one pixel up, down, left or right (the mean of "
                     "the four); the network never trains on moved digits")
    m[4].metric("Test loss", fmt(snap.test_loss))
    m[5].metric("Steps / s", f"{run.steps_per_second:,.0f}" if run.playing else "—")

    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown("**Loss** (cross-entropy, log scale)")
        live_plotly(curves_figure(trainer.history, "loss"), key="cv_loss")
    with right:
        st.markdown("**Accuracy**: train, test, and the test digits moved by one pixel")
        live_plotly(curves_figure(trainer.history, "accuracy"), key="cv_accuracy")

    # The pad is read before the views above it are drawn, so that they can show the drawing.
    inside_box, mistakes_box, drawing_box = st.container(), st.container(), st.container()
    with drawing_box:
        drawn = drawing(run)
    with inside_box:
        inside(run, drawn)
    with mistakes_box:
        mistakes(run)
    run.autosave(save_cnn)
    if state.get("cv_save_problem"):
        st.caption(state.cv_save_problem)


def inside(run: CNNRun, drawn: np.ndarray | None) -> None:
    """One digit through the network — a test digit, or the one drawn on the pad: its feature maps stage
    by stage (click a cell to see what part of the digit it reads), the first layer's filters, the
    saliency map, the probabilities."""
    trainer = run.trainer
    n_test = len(trainer.x_test_np)
    if not 0 <= state.cv_digit < n_test:  # an address's digit past this split's test set
        state.cv_digit = n_test - 1
    index = int(state.cv_digit)
    st.markdown("#### Inside the network")
    left, middle, right = st.columns([1.05, 2.5, 1.25], gap="medium")
    with left:
        look = st.segmented_control("Digit", ["test", "drawn"], key="cv_look", label_visibility="collapsed",
                                    format_func={"test": "Test digit", "drawn": "Drawing"}.get)
        use_drawing = look == "drawn" and drawn is not None
        if look == "drawn" and drawn is None:
            st.caption("Draw a digit on the pad below to look at it here; until then, a test digit.")
        st.number_input("Test digit", 0, n_test - 1, key="cv_digit", disabled=use_drawing,
                        help=f"One of the {n_test} test digits, by its position in the test set")
        views = run.digit_views(index, drawn if use_drawing else None)
        image = views.image
        box = None
        stages = trainer.stages
        if run.clicked is not None and run.clicked[0] < len(stages):
            s, r, c = run.clicked
            if r < stages[s].size and c < stages[s].size:
                y0, y1, x0, x1 = trainer.receptive_field(s, r, c)
                box = (y0, x0, y1 - 1, x1 - 1) if y1 > y0 and x1 > x0 else None
        live_plotly(digit_saliency_figure(image, views.saliency, box=box), key="cv_digit_image")
        probs = views.probabilities
        truth = "Your drawing" if use_drawing else f"True digit **{int(trainer.y_test[index])}**"
        st.caption(f"{truth}, read as **{int(np.argmax(probs))}** ({probs.max():.0%}). Saliency: "
                   "|∂score/∂pixel|, the pixels that move the answer most"
                   + ("; the green box is what the clicked cell sees." if box else "."))
    with middle:
        if not stages:
            st.markdown("**A dense network has no feature maps**: every hidden unit reads all 64 pixels at once, "
                        "so a digit moved by a pixel meets different weights.")
        else:
            maps = views.maps
            names = [name for name, _ in maps]
            if not 0 <= state.cv_stage < len(maps):  # a smaller network than the one the choice was made on
                state.cv_stage = len(maps) - 1
            stage = st.selectbox("Stage", range(len(maps)), key="cv_stage",
                                 format_func=lambda i: f"{names[i]} — {maps[i][1].shape[0]} maps of "
                                                       f"{maps[i][1].shape[1]}×{maps[i][1].shape[2]}")
            name, values = maps[stage]
            side = values.shape[1]
            cols = min(len(values), max(4, int(np.ceil(np.sqrt(len(values) * 2)))))  # wider than tall
            rows = -(-len(values) // cols)
            st.markdown(f"**Feature maps of {name}** for this digit — click a cell to see its receptive field")
            live_plotly(maps_figure(values, cols=cols, height=int(min(360, 30 + 440 / cols * rows)), key="cv_maps",
                                    hover="map"),
                        key="cv_maps", on_click=lambda p, s=stage, c=cols, n=side: on_map_click(p, s, c, n))
            if run.clicked is not None and run.clicked[0] == stage and box:
                s, r, c = run.clicked
                st.caption(f"Cell ({r}, {c}) of {name} depends on input rows {box[0]}–{box[2]} and columns "
                           f"{box[1]}–{box[3]}: a {box[2] - box[0] + 1}×{box[3] - box[1] + 1} window of the digit.")
            else:
                st.caption("Blue: positive, orange: negative, each map scaled to its own largest value. Deeper "
                           "stages see wider windows of the digit.")
    with right:
        filters = views.filters
        title = "First layer's filters" if stages else "First hidden units' weights"
        st.markdown(f"**{title}**")
        shown = filters[:, 0][:32]
        live_plotly(maps_figure(shown, cols=min(4, len(shown)), height=200, key="cv_filters", hover="filter"),
                    key="cv_filters")
        st.caption("What each " + ("kernel multiplies: edges and strokes appear as it trains." if stages else
                                   "unit multiplies the 64 pixels by: whole-digit templates."))


def mistakes(run: CNNRun) -> None:
    """The confusion matrix and the worst test digits, measured with the last evaluation (CNNRun.mistake_views)."""
    trainer, views = run.trainer, run.mistake_views()
    left, right = st.columns([1.1, 1.9], gap="medium")
    with left:
        st.markdown("**Confusion matrix** (test digits)")
        live_plotly(confusion_figure(views.confusion, height=300), key="cv_confusion")
    with right:
        worst = views.worst
        st.markdown("**The test digits it gets most wrong**")
        labels = [f"{t}→{p} ({c:.0%})" if t != p else f"{t} ✓ ({c:.0%})"
                  for t, p, c in zip(worst.true, worst.predicted, worst.confidence)]
        live_plotly(digits_row_figure(trainer.x_test_np[worst.index], labels, height=150, key="cv_worst"),
                    key="cv_worst")
        st.caption("Each: the true digit → what the network reads (the probability it gives the true one); ✓: "
                   "read right, but unsure. Many of them are hard for a person too.")


def drawing(run: CNNRun) -> np.ndarray | None:
    """The pad, what the network reads of the drawing and its answer; returns that input (None: nothing drawn)."""
    st.markdown("#### Draw a digit")
    left, middle, right = st.columns([1.7, 0.9, 1.6], gap="medium")
    with left:
        grid = draw_pad("cv_pad")
    image = drawn_input(grid)
    with middle:
        if image is None:
            st.caption("Draw a digit on the pad, large and centred: the network answers while it trains.")
        else:
            st.markdown("**What the network reads**")
            live_plotly(digit_figure(image, height=170), key="cv_drawn")
            st.caption("Your drawing cropped to its ink, scaled to fill the 8×8 frame and centred, as the "
                       "training digits were.")
    with right:
        if image is not None:
            probs = run.trainer.predict_proba(image[None])[0]
            st.markdown(f"**Read as {int(np.argmax(probs))}** ({probs.max():.0%})")
            live_plotly(probabilities_figure(probs, height=190, key="cv_drawn_probs"), key="cv_drawn_probs")
            st.caption("Choose “Drawing” under *Inside the network* to see its feature maps and saliency.")
    return image
