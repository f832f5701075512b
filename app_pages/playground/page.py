"""Playground: build a network, train it live on 2-D data, look at every neuron."""
import json

import numpy as np
import streamlit as st

from app_pages.common.controls import ask_before_discard, play_pause_button
from app_pages.common.guide import page_title
from app_pages.common.live_canvas import curves_canvas, plane_canvas
from app_pages.common.live_plotly import live_plotly, static_chart_config
from app_pages.common.saved_runs import forget_run, save_run, use_seed
from app_pages.common.shell import app_device, ensure_global_seed
from app_pages.common.text import md_escape
from app_pages.playground.loading import (load_config_into_widgets, on_checkpoint_upload, on_config_upload,
                                          on_points_upload, restore_saved_network)
from app_pages.playground.state import (BATCH_SIZES, CLIP_NORMS, DATASETS, DATASET_LABELS, DEFAULT_PRESET,
                                        LEARNING_RATES, MAX_LAYERS, MAX_NEURONS, PENALTY_RATES, POINT_COUNTS, PRESETS,
                                        SPEEDS, PlaygroundRun, config_from_widgets, format_loss, options_with,
                                        preset_config, widgets_for, widgets_from_config)
from app_pages.playground.sweep import spread_section
from app_pages.playground.weight_edit import on_diagram_click, weight_editor
from engine import ConfigError, ExperimentConfig, Trainer
from engine.core.registries import ACTIVATIONS, INITS, NORMS, OPTIMIZERS
from engine.mlp.config import FEATURES, HOT_FIELDS, structural_changes
from engine.mlp.data import FEATURE_LABELS
from engine.mlp.export import export_script
from engine.mlp.notebook import export_notebook
from engine.mlp.probes import plane_outputs
from viz.playground import boundary_canvas, loss_curves, network_figure, neuron_figure

state = st.session_state
WIDGET_KEYS = [k for k in widgets_from_config(ExperimentConfig()) if k.startswith("pg_")]
LOSS_LABELS = {"bce": "BCE (sigmoid)", "ce": "CE (softmax)", "mse": "Squared error", "hinge": "Hinge"}


# ---------- state: first visit, presets, uploads (loading.py) ----------
ensure_global_seed()
# Streamlit forgets the value of a widget that a run does not draw (the noise slider while
# "Your own data" is chosen, the width of a removed layer). Writing each value back keeps it.
for key in WIDGET_KEYS:
    if key in state:
        state[key] = state[key]
if "pg_dataset" not in state:  # first visit, or back from another page (Streamlit dropped the widget values)
    restored = None if "pg_saved_config" in state or "pg_run" in state else restore_saved_network()
    if restored is not None:
        config = restored
    elif "pg_saved_config" in state:
        config = ExperimentConfig.from_json(state.pg_saved_config)
    elif st.query_params:
        config, state.pg_url_warnings = ExperimentConfig.from_query(dict(st.query_params))
    else:
        config = preset_config(DEFAULT_PRESET, state.global_seed)
    values, notes = widgets_for(config)
    state.pg_url_warnings = state.get("pg_url_warnings", []) + notes
    seed = values.pop("global_seed")  # the sidebar has drawn that widget already (and read the URL's seed)
    state.update(values)
    use_seed(seed)  # a restored network's seed, when it is not the sidebar's


def on_preset() -> None:
    if state.pg_preset in PRESETS:
        load_config_into_widgets(preset_config(state.pg_preset, state.global_seed))
        state.pg_replace_ok = True  # picking a preset is asking for its network


# Button callbacks take the state they were drawn for and act only if it still holds: while
# the live view ticks, the browser can deliver one click twice (with a tick and with the
# rerun the click asks for), and a plain toggle would undo itself.
def on_regenerate(seed_drawn: int) -> None:
    state.global_seed = (seed_drawn + 1) % 2**31
    state.pg_replace_ok = True


def on_replace_network(config_json: str) -> None:
    """The user chose the changed settings over the trained network."""
    run = state.get("pg_run")
    if run is not None and run.trainer.config.to_json() != config_json:
        state.pg_run = PlaygroundRun(Trainer(ExperimentConfig.from_json(config_json), app_device()),
                                     playing=run.playing)


def on_keep_network(config_json: str) -> None:
    """The user keeps the trained network: the widgets go back to its settings."""
    load_config_into_widgets(ExperimentConfig.from_json(config_json))


def on_reset() -> None:
    state.pop("pg_run", None)
    forget_run("playground")  # a reload after Reset brings the new network, not the one thrown away


def on_play_pause(play: bool) -> None:
    run = state.get("pg_run")
    if run is not None:
        run.play() if play else run.pause()


def on_step(step_drawn: int) -> None:
    run = state.get("pg_run")
    if run is not None and (run.playing or run.trainer.step_count == step_drawn):
        run.step_epoch()


def on_clear_points() -> None:
    state.pg_points = []
    state.pg_replace_ok = True


def on_dataset_change() -> None:
    """Switching to "Your own data" starts from the points on screen, so there is
    something to train on at once and to add to by clicking."""
    run = state.get("pg_run")
    if state.pg_dataset == "custom" and not state.pg_points and run is not None:
        ds = run.trainer.dataset
        xy = np.concatenate([ds.train_xy, ds.test_xy])
        labels = np.concatenate([ds.train_y, ds.test_y]).astype(float)
        state.pg_points = [[round(float(a), 3), round(float(b), 3), float(c)] for (a, b), c in zip(xy, labels)]
        state.pg_custom_task = run.trainer.config.task


# ---------- header and controls ----------
page_title("🧪 Playground", "playground")
st.caption("Pick data, shape a network, press **Play**, and watch it learn: every neuron's map, the decision "
           "boundary and the loss update live. Changing the learning rate, batch size or penalties keeps training; "
           "changing the data or the network starts a new one.")
if state.get("pg_url_warnings"):
    with st.container(border=True):
        for w in state.pg_url_warnings:
            st.warning(md_escape(w), icon="⚠️")
        st.button("Dismiss", key="pg_dismiss_url", on_click=lambda: state.pop("pg_url_warnings", None))
if "pg_notice" in state:
    kind, text = state.pop("pg_notice")
    {"success": st.success, "warning": st.warning}.get(kind, st.error)(text)

config_problem = st.empty()  # filled below if the widgets describe an impossible network
run: PlaygroundRun | None = state.get("pg_run")
bar = st.columns([1.1, 1.1, 1.1, 2.2, 2.6])  # the buttons are drawn into it once the network is up to date
bar[3].selectbox("Speed", list(SPEEDS), index=2, key="pg_speed", label_visibility="collapsed")
bar[4].selectbox("Preset", ["Choose a preset…"] + list(PRESETS), key="pg_preset", on_change=on_preset,
                 label_visibility="collapsed")

train_cols = st.columns([1.75, 1.1, 1.2, 1.1, 1.1, 1, 1, 1, 1])
classification = not (state.pg_dataset in ("plane", "multigauss") or
                      (state.pg_dataset == "custom" and state.pg_custom_task == "regress2d"))
train_cols[0].selectbox("Loss", ["bce", "ce", "mse", "hinge"] if classification else ["mse"], key="pg_loss",
                        format_func=LOSS_LABELS.get)
train_cols[1].selectbox("Optimizer", OPTIMIZERS, key="pg_optimizer")
train_cols[2].select_slider("Learning rate", sorted(set(LEARNING_RATES + [state.pg_lr])), key="pg_lr",
                            help="Applied to the running network at once")
train_cols[3].select_slider("Momentum", sorted({0.0, 0.5, 0.9, 0.95, 0.99, state.pg_momentum}), key="pg_momentum",
                            help="For sgd and rmsprop; 0 gives 'momentum' and 'nesterov' their 0.9")
train_cols[4].select_slider("Batch size", options_with(BATCH_SIZES, state.pg_batch), key="pg_batch")
train_cols[5].select_slider("L1 rate", sorted(set(PENALTY_RATES + [state.pg_l1])), key="pg_l1")
train_cols[6].select_slider("L2 rate", sorted(set(PENALTY_RATES + [state.pg_l2])), key="pg_l2")
train_cols[7].select_slider("Clip ‖∇‖", options_with(CLIP_NORMS, state.pg_clip), key="pg_clip",
                            format_func=lambda v: f"{v:g}" if v else "off",
                            help="Rescale the gradients so their total norm is at most this; applied at once")
train_cols[8].number_input("Stop at epoch", 0, 1_000_000, step=50, key="pg_max_epochs",
                           help="Training pauses by itself at this epoch; 0: never")

left, right = st.columns([1, 3.3], gap="medium")
with left:
    st.markdown("**Data**")
    st.selectbox("Data set", DATASETS, key="pg_dataset", format_func=DATASET_LABELS.get, on_change=on_dataset_change)
    if state.pg_dataset == "blobs":
        st.slider("Classes", 2, 8, key="pg_n_classes")
    if state.pg_dataset == "custom":
        st.radio("Your data is for", ["classify2d", "regress2d"], key="pg_custom_task", horizontal=True,
                 format_func={"classify2d": "classes", "regress2d": "regression"}.get)
        st.file_uploader("Upload CSV: x1, x2, label", type=["csv", "txt"], key="pg_points_upload",
                         on_change=on_points_upload, help="Up to 5,000 rows; coordinates are scaled into [-6, 6]")
        st.caption(f"{len(state.pg_points)} points. Click the output plot to add a point of this class:")
        c1, c2 = st.columns(2)
        c1.number_input("Class / target", -1.0, 7.0, value=1.0, step=1.0, key="pg_click_label",
                        help="A class 0..7, or a regression target in [-1, 1]")
        c2.button("Clear points", key="pg_clear", on_click=on_clear_points)
    else:
        st.slider("Noise (%)", 0, 50, key="pg_noise")
        st.select_slider("Points", options_with(POINT_COUNTS, state.pg_n_samples), key="pg_n_samples")
    st.slider("Test data (%)", 0, 90, step=5, key="pg_test_pct")
    st.multiselect("Input features", FEATURES, key="pg_features", format_func=FEATURE_LABELS.get)
    st.button("🎲 Regenerate", key="pg_regen", on_click=on_regenerate, args=(state.global_seed,), help="New random data (the seed goes up by one)")

with right:
    net_cols = st.columns([1.1, 1.2, 1.2, 1.4, 1.2, 1.6])
    net_cols[0].number_input("Hidden layers", 0, MAX_LAYERS, key="pg_layers")
    net_cols[1].selectbox("Activation", list(ACTIVATIONS), key="pg_activation", disabled=state.pg_per_layer)
    net_cols[2].selectbox("Init", INITS, key="pg_init")
    net_cols[3].selectbox("Normalisation", NORMS, key="pg_norm")
    net_cols[4].slider("Dropout", 0.0, 0.9, step=0.05, key="pg_dropout")
    with net_cols[5]:
        st.toggle("Residual", key="pg_residual", help="Skip connection around each layer whose width matches its input")
        st.toggle("Per layer", key="pg_per_layer", help="A different activation for each layer")
    if state.pg_layers:
        width_cols = st.columns(MAX_LAYERS)
        for i in range(int(state.pg_layers)):
            width_cols[i].number_input(f"Layer {i + 1}", 1, MAX_NEURONS, key=f"pg_width_{i}")
            if state.pg_per_layer:
                width_cols[i].selectbox(f"Act. {i + 1}", list(ACTIVATIONS), key=f"pg_act_{i}",
                                        label_visibility="collapsed")

# ---------- config -> trainer ----------
try:
    config = config_from_widgets(state)
except ConfigError as e:
    config_problem.error(f"This setting is not possible: {e}. The last valid network keeps running.", icon="🚫")
    config = run.trainer.config if run else ExperimentConfig()
state.pg_saved_config = config.to_json()
# A deliberate action (preset, upload, new data, clear points) replaces the network at once;
# a widget change that would throw away a trained network asks first.
replace_ok = state.pop("pg_replace_ok", False)
if run is None:
    run = state.pg_run = PlaygroundRun(Trainer(config, app_device()))
elif (changed := structural_changes(run.trainer.config, config)) and run.trainer.epoch >= 1 and not replace_ok:
    # Hot settings (learning rate, batch size, ...) still reach the network that keeps running,
    # and "Keep" keeps them: the question is drawn with its settings after they arrived.
    run.trainer.apply(run.trainer.config.replace(train={k: getattr(config.train, k) for _, k in HOT_FIELDS}))
    ask_before_discard(config_problem, changed, f"{run.trainer.epoch:,} epochs", on_replace_network, on_keep_network,
                       "pg", replace_args=(config.to_json(),), keep_args=(run.trainer.config.to_json(),))
else:
    changed = run.trainer.apply(config)
    if changed:
        state.pg_run = PlaygroundRun(Trainer(config, app_device()), playing=run.playing)
        run = state.pg_run
        st.toast(f"New network: {', '.join(changed)} changed")
query = config.to_query()
if dict(st.query_params) != query:
    st.query_params.from_dict(query)

# Drawn for the network as it is now: a Step click right after a replacement acts on the new one.
playing = run.playing
play_pause_button(bar[0], "pg", playing, on_play_pause, help="Start or stop live training")
bar[1].button("⏭ Step", key="pg_step", on_click=on_step, args=(run.trainer.step_count,),
              use_container_width=True, help="Train exactly one epoch")
bar[2].button("↺ Reset", key="pg_reset", on_click=on_reset, use_container_width=True,
              help="New initial weights, training history cleared")


# ---------- the live view ----------
@st.fragment(run_every=run.pace.run_every(run.playing))
def live_view() -> None:
    run: PlaygroundRun = state.pg_run
    with run.pace.frame(run.playing) as frame:
        if run.pace.cut_short():
            st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
        snap = run.tick(SPEEDS[state.pg_speed])
        frame.trained()
        draw_live_view(run, snap)
    if not run.playing and playing:
        st.rerun()  # stopped by itself: redraw the Play button
    if run.playing and run.pace.interval_is_stale():
        st.rerun()  # draw the live view again with a frame interval that fits the frames


def draw_live_view(run: PlaygroundRun, snap) -> None:
    trainer = run.trainer
    if run.message:
        st.warning(run.message, icon="⏸")
    m = st.columns(6)
    m[0].metric("Epoch", f"{snap.epoch:,}")
    m[1].metric("Train loss", format_loss(snap.train_loss))
    m[2].metric("Test loss", format_loss(snap.test_loss))
    if snap.train_accuracy is not None:
        m[3].metric("Train accuracy", f"{snap.train_accuracy:.1%}")
        m[4].metric("Test accuracy", "—" if snap.test_accuracy is None else f"{snap.test_accuracy:.1%}")
    m[5].metric("Epochs / s", f"{run.epochs_per_second:,.0f}" if run.playing else "—")

    ds = trainer.dataset
    diagram_col, output_col = st.columns([1.25, 1], gap="medium")
    with output_col:
        t1, t2 = st.columns(2)
        show_test = t1.toggle("Show test data", key="pg_show_test")
        discretize = t2.toggle("Discretize output", key="pg_discretize")
        clickable = trainer.config.data.name == "custom"
        clicked = plane_canvas(boundary_canvas(snap.plane["output"], trainer.n_classes, ds.train_xy, ds.train_y,
                                               ds.test_xy if show_test else None, ds.test_y if show_test else None,
                                               discretize=discretize, clickable=clickable), key="pg_boundary")
        if clickable and clicked:
            add_clicked_point(clicked)
    with diagram_col:
        planes = plane_outputs(trainer.model, trainer.config.data.features, trainer.n_classes, trainer.device,
                               resolution=24, neurons=True)
        weights = [w for w, _ in trainer.weights()]
        selected = state.get("pg_selected_neuron")
        fig = network_figure([FEATURE_LABELS[f] for f in trainer.config.data.features], planes["inputs"],
                             planes["neurons"], weights,
                             output_map=planes["output"] * 2 - 1 if trainer.n_classes == 2 else planes["output"],
                             selected=selected)
        live_plotly(fig, key="pg_network", on_click=on_diagram_click)
        show_neuron(state.get("pg_selected_neuron"), trainer)
        weight_editor(run)
    curves_canvas(loss_curves(trainer.history, trainer.n_classes > 0), key="pg_loss_chart")
    run.autosave(save_network)
    if state.get("pg_save_problem"):
        st.caption(state.pg_save_problem)


def save_network(checkpoint: bytes) -> None:
    state.pg_save_problem = save_run("playground", checkpoint)


def add_clicked_point(clicked: dict) -> None:
    """A click on the output plot (custom data) adds a point of the chosen class there."""
    x, y = round(float(clicked["x"]), 3), round(float(clicked["y"]), 3)
    state.pg_points = state.pg_points + [[x, y, float(state.pg_click_label)]]
    st.rerun()  # the whole page: the data, and so the network, changed


def show_neuron(selected, trainer) -> None:
    if not selected:
        st.caption("Click a neuron in the diagram to enlarge what it computes and type its bias; hover an edge to "
                   "read its weight, click it to type a new one.")
        return
    column, index = selected
    n_hidden = len(trainer.config.model.hidden)
    widths = [len(trainer.config.data.features)] + trainer.config.model.hidden
    if column > n_hidden or index >= widths[column]:
        return  # the output node, or a neuron of a network that has since changed
    planes = plane_outputs(trainer.model, trainer.config.data.features, trainer.n_classes, trainer.device,
                           resolution=60, neurons=True)
    grid = planes["inputs"][index] if column == 0 else planes["neurons"][column - 1][index]
    name = FEATURE_LABELS[trainer.config.data.features[index]] if column == 0 else f"hidden{column}[{index}]"
    ds = trainer.dataset
    st.plotly_chart(neuron_figure(grid, f"{name}: its output over the plane", ds.train_xy, ds.train_y,
                                  trainer.n_classes), key="pg_neuron", config=static_chart_config("neuron"))


with right:
    live_view()

# ---------- many variants at once ----------
spread_section(config)

# ---------- share and export ----------
with st.expander("Share, save and export"):
    st.markdown("The address in your browser holds this whole setup, seed included: copy it to share the run.")
    c1, c2, c3 = st.columns(3)
    with c1:
        st.download_button("⬇ Config (JSON)", config.to_json(), "playground-config.json", "application/json",
                           key="pg_dl_config", on_click="ignore")
        st.file_uploader("Load a config", type=["json"], key="pg_config_upload", on_change=on_config_upload)
    with c2:
        # Files are built when clicked (a callable), not on every rerun of the page; a click does not rerun the
        # page either (on_click="ignore"): a rerun re-registers the file while the browser is still fetching it.
        trainer = run.trainer
        st.download_button("⬇ Checkpoint (weights, optimizer, progress)", trainer.checkpoint_bytes, "playground.pt",
                           key="pg_dl_checkpoint", on_click="ignore")
        st.file_uploader("Load a checkpoint", type=["pt"], key="pg_checkpoint_upload", on_change=on_checkpoint_upload,
                         help="Read with torch.load(weights_only=True): a file that carries code is refused")
    with c3:
        st.download_button("⬇ Export as PyTorch", lambda: export_script(config, steps=trainer.step_count or 1000),
                           "playground_train.py", "text/x-python", key="pg_dl_script", on_click="ignore",
                           help="A standalone script (torch + numpy) that rebuilds this data, model and loop and runs "
                                "as many steps as trained so far (1,000 before any training); with this seed it "
                                "reproduces the loss curve")
        st.download_button("⬇ Download as notebook", lambda: export_notebook(config, steps=trainer.step_count or 1000),
                           "playground.ipynb", "application/x-ipynb+json", key="pg_dl_notebook", on_click="ignore",
                           help="The same code as a Jupyter notebook, one step a cell with what it does and why; it "
                                "trains, prints the loss curve and plots it (torch, numpy and plotly, offline)")
    st.code(json.dumps(config.to_dict()), language="json", wrap_lines=True)
