"""Foundations: one neuron, activations, loss functions, gradient descent and backprop."""
import numpy as np
import pandas as pd
import streamlit as st

from app_pages.common.address import read_address_once, write_address
from app_pages.common.controls import play_pause_button
from app_pages.common.guide import page_title
from app_pages.common.live_canvas import curves_canvas, plane_canvas
from app_pages.common.live_plotly import static_chart_config
from app_pages.common.shell import app_device, ensure_global_seed
from app_pages.common.text import md_escape
from app_pages.foundations.state import (BACKPROP_BATCHES, BACKPROP_WIDTHS, COMPARE_EPOCHS, DESCENT_BATCHES,
                                         DESCENT_SETS, L2_RATES, LEARNING_RATES, LINEAR_SETS, MAX_NOISE, MAX_STEPS,
                                         MIN_STEPS, NOISE_STEP, SCORE_LIMIT, SCORE_STEP, STEPS_STEP, SURFACE_LABELS,
                                         SURFACE_LEARNING_RATES, TABS, TRAIN_EPOCHS, WEIGHT_LIMIT, WEIGHT_STEP,
                                         LogisticRun, compare_losses, default_widgets, latex_factor, nearest_option,
                                         neuron_weights, new_logistic_trainer, widgets_from_query, widgets_to_query)
from engine.core.registries import ACTIVATIONS
from engine.foundations.backprop import FD_EPSILON, inspect_weight, inspector_batch, inspector_config, inspector_network
from engine.foundations.neuron import (MARGIN_LOSSES, SATURATION_SLOPE, SIGMOID_MAX_SLOPE, activation_curves,
                                       loss_vs_margin, neuron_output, prediction_losses, regularised_objective,
                                       three_class_losses, zero_one_loss)
from engine.foundations.surfaces import PATH_OPTIMIZERS, make_surface, optimizer_paths
from viz.foundations import (activation_figure, chain_figure, gini_ce_figure, margin_loss_figure, neuron_output_figure,
                             path_loss_figure, regularised_figure, surface_figure)
from viz.playground import boundary_canvas, boundary_figure, loss_curves

state = st.session_state
CHART = static_chart_config("foundations")  # a PNG button on hover
ensure_global_seed()
# The session's first visit: a shared address may carry the open tab and its settings.
address_problems = read_address_once(state, st.query_params, "fd_address_read", widgets_from_query)
# Widgets take their first value from here, not from value=: callbacks and the address set them
# too, and Streamlit warns when a widget gets both.
for key, first_value in default_widgets().items():
    state.setdefault(key, first_value)

page_title("🧮 Foundations", "foundations")
st.caption("The pieces every network is made of, one at a time: a neuron, the activation it applies, the loss "
           "that scores it, the walk downhill that trains it, and the chain rule that tells each weight which "
           "way is down. Every number here comes from PyTorch's autograd and the same engine the Playground trains with.")
for problem in address_problems:  # the address's text is the visitor's, shown as text
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")
# The open tab is kept (a rerun when it changes) so that the address can name it; every tab is
# still drawn, so that switching back and forth shows what was there.
neuron_tab, activation_tab, loss_tab, descent_tab, backprop_tab = st.tabs(list(TABS.values()), key="fd_tab",
                                                                          on_change="rerun")


# ---------------- ① one neuron ----------------
def on_copy_learned(weights: tuple[float, float, float]) -> None:
    # The learned weights are passed in as they were drawn, so a click acts on what the user saw.
    state.fd_w1, state.fd_w2, state.fd_b = (float(np.clip(round(v, 1), -5.0, 5.0)) for v in weights)
    state.fd_neuron_act = "sigmoid"


def on_play_logistic(play: bool) -> None:
    # Takes the state the button was drawn for: during live frames a click can arrive twice.
    if "fd_logistic" in state:
        state.fd_logistic.play() if play else state.fd_logistic.pause()


def on_train_more(epoch_drawn: int) -> None:
    run = state.get("fd_logistic")
    if run is not None and run.trainer.epoch == epoch_drawn:  # a click delivered twice trains once
        run.train_more()


def on_reset_logistic() -> None:
    run = state.pop("fd_logistic", None)
    if run is not None:
        run.pace.stop()


def draw_logistic(trainer, snap) -> None:
    """One frame of the live logistic regression: its numbers, its boundary and its loss curves."""
    w1, w2, b = neuron_weights(trainer)
    m = st.columns(6)
    m[0].metric("Epoch", f"{snap.epoch}")
    m[1].metric("Test loss", f"{snap.test_loss:.3f}")
    m[2].metric("Test accuracy", f"{snap.test_accuracy:.0%}")
    m[3].metric("Learned w₁", f"{w1:+.2f}")
    m[4].metric("Learned w₂", f"{w2:+.2f}")
    m[5].metric("Learned b", f"{b:+.2f}")
    if snap.diverged:
        st.warning("The loss became infinite at this learning rate; the last finite weights were kept. Lower it.")
    left, right = st.columns([1.2, 1], gap="medium")
    ds = trainer.dataset
    with left:  # a canvas redrawn in place: a new Plotly chart per frame would keep the browser busy
        plane_canvas(boundary_canvas(snap.plane["output"], 2, ds.train_xy, ds.train_y, height=400),
                     key="fd_lr_boundary")
    with right:
        curves_canvas(loss_curves(trainer.history, True, height=300), key="fd_lr_loss")
        st.button("Copy the learned weights into the neuron above", key="fd_lr_copy", on_click=on_copy_learned,
                  args=((w1, w2, b),))


with neuron_tab:
    st.markdown("A neuron computes a **weighted sum plus a bias**, z = w₁x₁ + w₂x₂ + b, and passes it through an "
                "**activation**. Move the weights and watch its output over the input plane.")
    controls, chart = st.columns([1, 2.2], gap="medium")
    with controls:
        st.slider("w₁", -WEIGHT_LIMIT, WEIGHT_LIMIT, step=WEIGHT_STEP, key="fd_w1")
        st.slider("w₂", -WEIGHT_LIMIT, WEIGHT_LIMIT, step=WEIGHT_STEP, key="fd_w2")
        st.slider("bias b", -WEIGHT_LIMIT, WEIGHT_LIMIT, step=WEIGHT_STEP, key="fd_b")
        st.selectbox("Activation", list(ACTIVATIONS), key="fd_neuron_act")
    with chart:
        grid = neuron_output(state.fd_w1, state.fd_w2, state.fd_b, state.fd_neuron_act)
        st.plotly_chart(neuron_output_figure(grid, state.fd_neuron_act, (state.fd_w1, state.fd_w2), state.fd_b),
                        key="fd_neuron_chart", config=CHART)
        st.caption("**What to look for:** the output changes only across the dashed line w·x + b = 0 and is constant "
                   "along it — one neuron can only draw a straight boundary. The arrow w points to where the output "
                   "grows; longer weights make the change sharper (the sigmoid goes from a soft ramp to a step), "
                   "and the bias slides the line without turning it.")

    st.subheader("Logistic regression is this neuron, trained")
    st.markdown("The same neuron with a **sigmoid** output, trained with **binary cross-entropy** by the engine's "
                "Trainer (no hidden layer). Its output is read as P(blue).")
    c1, c2, c3, c4 = st.columns([1.4, 1, 1, 1.6])
    c1.selectbox("Data", list(LINEAR_SETS), format_func=LINEAR_SETS.get, key="fd_lr_data")
    c2.slider("Noise", 0.0, MAX_NOISE, step=NOISE_STEP, key="fd_lr_noise")
    c3.select_slider("Learning rate", LEARNING_RATES, key="fd_lr_lr")
    setup = (state.fd_lr_data, state.fd_lr_noise, state.global_seed)
    run = state.get("fd_logistic")
    if run is None or run.setup != setup:
        if run is not None:
            run.pace.stop()  # the neuron thrown away no longer takes a share of the server
        run = state.fd_logistic = LogisticRun(setup, new_logistic_trainer(
            state.fd_lr_data, state.fd_lr_noise, state.fd_lr_lr, state.global_seed, app_device()))
    trainer = run.trainer
    trainer.apply(trainer.config.replace(train={"lr": state.fd_lr_lr}))  # a hot change keeps the progress
    playing = run.playing
    with c4:
        b1, b2, b3 = st.columns(3)
        play_pause_button(b1, "fd_lr", playing, on_play_logistic, help="Train live, two epochs per frame")
        b2.button(f"+{TRAIN_EPOCHS} epochs", key="fd_lr_train", width="stretch", on_click=on_train_more,
                  args=(trainer.epoch,))
        b3.button("↺ Reset", key="fd_lr_reset", on_click=on_reset_logistic, width="stretch")

    @st.fragment(run_every=run.pace.run_every(playing))
    def logistic_view() -> None:
        run: LogisticRun = state.fd_logistic
        with run.pace.frame(run.playing) as frame:
            if run.pace.cut_short():
                st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
            snap = run.tick(resolution=50)
            frame.trained()
            draw_logistic(run.trainer, snap)
        if playing and not run.playing:
            st.rerun()  # stopped by itself (a divergence): redraw the Play button
        if run.playing and run.pace.interval_is_stale():
            st.rerun()  # the live view again with an interval that fits its frames

    logistic_view()
    st.caption("**What to look for:** on two gaussians the boundary settles between the clouds within a few epochs "
               "and the loss keeps creeping down as the weights grow (more confidence, same line). On the circle or "
               "XOR the accuracy stalls near 50 %: no straight line separates them — which is why networks have "
               "hidden layers. Copy the weights up to see the very same neuron drawn by hand.")


# ---------------- ② activations ----------------
with activation_tab:
    st.markdown("An activation bends the weighted sum. Its **derivative** decides how much gradient flows back "
                "through it: where the derivative is near 0 the neuron is **saturated** and learns almost nothing.")
    c1, c2 = st.columns([3, 1])
    c1.multiselect("Activations", list(ACTIVATIONS), key="fd_acts")
    shown = state.fd_acts or ["sigmoid"]
    c2.selectbox("Shade saturation of", shown, key="fd_highlight")
    curves = activation_curves(shown)
    st.plotly_chart(activation_figure(curves, state.fd_highlight, SIGMOID_MAX_SLOPE, SATURATION_SLOPE),
                    key="fd_act_chart", config=CHART)
    st.caption(f"**What to look for:** solid lines are f(x), dashed ones f′(x) from autograd; the shaded bands are "
               f"where |f′| < {SATURATION_SLOPE:g}. The sigmoid's slope never exceeds {SIGMOID_MAX_SLOPE:g} (dotted "
               "red line), so every sigmoid layer multiplies the gradient flowing back by at most a quarter — ten "
               "layers shrink it a millionfold: the vanishing gradient. tanh peaks at 1 but saturates for |x| > 2; "
               "ReLU passes the gradient unchanged for x > 0 and not at all for x < 0 (a \"dead\" neuron).")
    rows = [{"activation": c.name, "largest |f′|": f"{np.abs(c.derivative).max():.3f}",
             "saturated for x in": ", ".join(f"[{round(lo, 2) + 0.0:.2f}, {round(hi, 2) + 0.0:.2f}]" for lo, hi in c.saturated) or "never"}
            for c in curves]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


# ---------------- ③ losses ----------------
def on_compare() -> None:
    state.fd_comparison = compare_losses(state.fd_cmp_data, 0.3, [8] if state.fd_cmp_hidden else [],
                                         state.global_seed, device=app_device())


with loss_tab:
    st.markdown("A loss turns a prediction into one number to minimise. For two classes with y = ±1 and the "
                "neuron's score s, everything depends on the **margin** m = y·s: positive on the right side of "
                "the boundary, larger when more confident.")
    margins = np.linspace(-3, 3, 241)
    curves = {name: loss_vs_margin(margins, name) for name in MARGIN_LOSSES} | {"0-1": zero_one_loss(margins)}
    left, right = st.columns(2, gap="medium")
    with left:
        st.plotly_chart(margin_loss_figure(margins, curves), key="fd_margin_chart", config=CHART)
        st.caption("**What to look for:** hinge is exactly 0 once the margin passes 1 — points far on the right side "
                   "stop mattering (the support-vector idea). Cross-entropy never reaches 0, so it keeps pushing "
                   "for more confidence, and it grows linearly for badly wrong points. Squared error on the sigmoid "
                   "flattens out on the wrong side: a confidently wrong point gets almost no gradient.")
    with right:
        st.select_slider("L2 rate λ", L2_RATES, key="fd_l2")
        weights = np.linspace(-1, 8, 361)
        objectives = {name: regularised_objective(weights, name, state.fd_l2) for name in MARGIN_LOSSES}
        st.plotly_chart(regularised_figure(weights, objectives, state.fd_l2), key="fd_l2_chart", config=CHART)
        st.caption("**What to look for:** one point at x = 1, so the margin is the weight itself. At λ = 0 the "
                   "cross-entropy's best weight runs off the chart (▸): on separable data the weights grow forever. "
                   "Any λ > 0 adds λ/2·w², a bowl that gives every loss a finite minimum; a larger λ pulls it "
                   "toward 0. Hinge with L2 is the soft-margin SVM.")

    st.subheader("Three classes: cross-entropy and Gini")
    c1, c2 = st.columns([1, 2], gap="medium")
    with c1:
        st.markdown("Scores (logits) of a prediction whose true class is **A**:")
        logits = [st.slider(f"score of {name}", -SCORE_LIMIT, SCORE_LIMIT, step=SCORE_STEP, key=f"fd_logit_{i}")
                  for i, name in enumerate("ABC")]
        result = prediction_losses(logits, 0)
        st.markdown("softmax → " + ", ".join(f"P({k}) = **{p:.2f}**" for k, p in zip("ABC", result["probs"])))
        st.metric("Cross-entropy", f"{result['ce']:.3f}")
        st.metric("Gini impurity", f"{result['gini']:.3f}")
    with c2:
        p = np.linspace(0.005, 0.995, 199)
        family = three_class_losses(p)
        marker = {"p": float(result["probs"][0]), "ce": result["ce"], "gini": result["gini"]}
        st.plotly_chart(gini_ce_figure(p, family["ce"], family["gini"], marker), key="fd_gini_chart", config=CHART)
        st.caption("**What to look for:** cross-entropy −log p explodes as the true class's probability goes to 0, "
                   "so a confident mistake costs a lot and gets a strong gradient. The Gini impurity 1 − Σp² never "
                   "exceeds 2/3 and falls again as p → 0: a confidently *wrong* prediction (½, ½ on the other two) "
                   "scores 0.5, better than an unsure one. It measures how *mixed* a prediction is, not whether it "
                   "is right — the criterion for splitting a decision tree, not a loss to train a classifier with. The ✕ is "
                   "your prediction (its other two classes need not share equally, so it can sit off the curve).")

    st.subheader("The same data, trained three times")
    c1, c2, c3 = st.columns([1.4, 1.4, 1.2])
    c1.selectbox("Data", list(LINEAR_SETS), format_func=LINEAR_SETS.get, key="fd_cmp_data")
    c2.toggle("Add a hidden layer of 8 tanh neurons", key="fd_cmp_hidden")
    c3.button(f"▶ Train all three ({COMPARE_EPOCHS} epochs)", key="fd_cmp_train", on_click=on_compare, type="primary")
    comparison = state.get("fd_comparison")
    if comparison is None:
        st.info("Press **Train all three** to train the same network with each loss (Adam, same seed, same data).")
    else:
        columns = st.columns(3, gap="small")
        for column, (loss, snap) in zip(columns, comparison.snapshots.items()):
            ds = comparison.trainers[loss].dataset
            with column:
                st.markdown(f"**{loss}** — test accuracy {snap.test_accuracy:.0%}")
                st.plotly_chart(boundary_figure(snap.plane["output"], 2, ds.train_xy, ds.train_y, height=300),
                                key=f"fd_cmp_{loss}", config=CHART)
        st.caption("**What to look for:** with one neuron all three find nearly the same line on two gaussians; "
                   "the difference is in the colour. Cross-entropy grows confident everywhere; squared error stays "
                   "soft; hinge stops caring once points are a margin away, so its band of uncertainty is narrow. "
                   "With noise, watch hinge and cross-entropy pull the line toward misclassified points while "
                   "squared error largely ignores them.")


# ---------------- ④ gradient descent ----------------
def on_surface_change() -> None:
    state.fd_gd_lr = nearest_option(make_surface(state.fd_surface).default_lr, SURFACE_LEARNING_RATES)


@st.cache_data(max_entries=16, show_spinner=False)
def surface_grid(name: str, data_name: str, seed: int):
    return make_surface(name, data_name, seed=seed).grid(80)


with descent_tab:
    st.markdown("Training walks downhill: **w := w − η·∂L/∂w**. Here the loss depends on just two parameters, so "
                "the whole landscape fits on a map, and four real `torch.optim` optimisers start from the same point.")
    c1, c2, c3, c4 = st.columns([2, 1.4, 1.4, 1.2])
    c1.selectbox("Surface", list(SURFACE_LABELS), format_func=SURFACE_LABELS.get, key="fd_surface",
                 on_change=on_surface_change)
    is_data = state.fd_surface.startswith("logistic")
    c2.select_slider("Learning rate η", SURFACE_LEARNING_RATES, key="fd_gd_lr")
    c3.slider("Steps", MIN_STEPS, MAX_STEPS, step=STEPS_STEP, key="fd_gd_steps")
    c4.selectbox("Batch size", DESCENT_BATCHES, format_func=lambda b: "all points" if b == 0 else str(b),
                 key="fd_gd_batch", disabled=not is_data,
                 help="Each step follows the gradient of a random mini-batch: smaller batches, noisier paths")
    c1, c2 = st.columns([2, 1.4])
    c1.multiselect("Optimisers", list(PATH_OPTIMIZERS), key="fd_gd_opts")
    if is_data:
        c2.selectbox("Data", DESCENT_SETS, format_func=LINEAR_SETS.get, key="fd_gd_data")
    data_name = state.get("fd_gd_data", "gauss")
    surface = make_surface(state.fd_surface, data_name, seed=state.global_seed)
    paths = optimizer_paths(surface, state.fd_gd_lr, state.fd_gd_steps, state.fd_gd_opts,
                            batch_size=state.fd_gd_batch if is_data else 0, seed=state.global_seed)
    xs, ys, loss_grid = surface_grid(state.fd_surface, data_name, state.global_seed)
    left, right = st.columns([1.5, 1], gap="medium")
    with left:
        st.plotly_chart(surface_figure(xs, ys, loss_grid, paths, surface.axis_labels, surface.minimum),
                        key="fd_surface_chart", config=CHART)
        st.caption(f"**What to look for** ({surface.note}): at a small η every path creeps; raise it and plain SGD "
                   "starts to zig-zag across the valley, then shoots off the map (✕: diverged). Momentum builds "
                   "speed along the valley floor and overshoots; RMSprop and Adam divide by the gradient's size, "
                   "so they take steps of about η whatever the slope — slow on Rosenbrock at tiny η, steady where "
                   "SGD explodes. On the saddle, the gradient at the start points almost only along x: SGD barely "
                   "leaves the ridge while the adaptive methods escape. A batch size on the data surfaces makes "
                   "each step follow a noisy estimate: the path jitters around the minimum instead of settling.")
    with right:
        if paths:
            st.plotly_chart(path_loss_figure(paths), key="fd_path_loss", config=CHART)
            st.caption("**What to look for:** the full loss at every step of each path (log scale). A steady slope "
                       "is convergence, a sawtooth is oscillation, a line that ends early has diverged. With "
                       "mini-batches the loss stops falling at a noise floor that shrinks as the batch grows.")
        rows = [{"optimiser": p.optimizer, "steps": len(p.points) - 1, "final loss": f"{p.losses[-1]:.4g}",
                 "ends at": f"({p.points[-1][0]:.2f}, {p.points[-1][1]:.2f})",
                 "status": "diverged" if p.diverged else "running"} for p in paths]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")


# ---------------- ⑤ backprop ----------------
with backprop_tab:
    st.markdown("Backpropagation is the **chain rule**. The loss reaches a weight through a chain of steps; the "
                "gradient is the product of each step's local derivative, summed over the points of the batch. "
                "Here a 2 → H → 1 network (sigmoid output, BCE) on one mini-batch of XOR; every factor comes from autograd.")
    c = st.columns(5)
    c[0].selectbox("Hidden activation", list(ACTIVATIONS), key="fd_bp_act")
    c[1].slider("Hidden neurons H", *BACKPROP_WIDTHS, key="fd_bp_width")
    c[2].slider("Batch size", *BACKPROP_BATCHES, key="fd_bp_batch")
    c[3].radio("Weight in", ["hidden", "output"], key="fd_bp_layer", horizontal=True,
               format_func={"hidden": "W₁ (input → hidden)", "output": "W₂ (hidden → output)"}.get)
    width = state.fd_bp_width
    with c[4]:
        if state.fd_bp_layer == "hidden":
            row = st.selectbox("hidden neuron", range(width), key="fd_bp_row")
            col = st.selectbox("input", [0, 1], format_func=lambda i: f"x{'₁₂'[i]}", key="fd_bp_col")
        else:
            row, col = 0, st.selectbox("from hidden neuron", range(width), key="fd_bp_hidden")
    config = inspector_config(state.fd_bp_act, width, seed=state.global_seed)
    x, labels = inspector_batch(config, state.fd_bp_batch)
    report = inspect_weight(inspector_network(config), x, labels, state.fd_bp_layer, min(row, width - 1),
                            min(col, width - 1) if state.fd_bp_layer == "output" else col)
    st.markdown(f"**{report.weight_name}** = {report.weight_value:+.4f} · batch loss L = {report.loss:.4f}")
    st.latex(r"\frac{\partial L}{\partial w} = \sum_{n \in \text{batch}} "
             + r" \cdot ".join(latex_factor(name) for name in report.factor_names))
    m = st.columns(3)
    m[0].metric("Chain rule Σ Π factors", f"{report.chain_rule:.6e}")
    m[1].metric("Autograd ∂L/∂w", f"{report.autograd:.6e}")
    m[2].metric("Finite difference", f"{report.finite_difference:.6e}",
                help=f"(L(w + ε) − L(w − ε)) / 2ε with ε = {FD_EPSILON:g}, the loss from engine.core.losses")
    st.caption(f"finite difference − autograd = {report.finite_difference - report.autograd:+.1e} · "
               f"chain rule − autograd = {report.chain_rule - report.autograd:+.1e}")
    table = pd.concat([pd.DataFrame(report.forward), pd.DataFrame(report.factors, columns=report.factor_names)], axis=1)
    table["product"] = report.per_point
    st.dataframe(table.style.format("{:+.3f}").format("{:+.2e}", subset=["product"]), width="stretch")
    st.caption("**What to look for:** each row is one point: its values along the path, then the chain's factors. "
               "∂L/∂ŷ carries the 1/B of the mean and is large where the prediction is wrong; ∂ŷ/∂z₂ is the "
               "sigmoid's slope, never above 0.25; ∂h/∂z₁ is the hidden activation's slope — with relu it is exactly "
               "0 for points where the neuron is off, and that point contributes nothing. The last factor is the "
               "input the weight multiplies. The sum of the products equals autograd's gradient, and the finite "
               "difference agrees with both to ten digits or so (the line above the table shows by how much).")
    st.plotly_chart(chain_figure(report.factor_names, report.per_point, report.chain_rule, report.autograd,
                                 report.finite_difference), key="fd_chain_chart", config=CHART)
    st.caption("**What to look for:** the bars are each point's share of the gradient; blue pushes the weight down "
               "(the update is −η times the gradient), orange up. The three lines — the summed chain rule, autograd "
               "and the finite difference — lie on top of each other.")

write_address(st.query_params, widgets_to_query(state, state.global_seed))  # copy the address to share this setup
