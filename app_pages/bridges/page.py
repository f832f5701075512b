"""Classical ML ↔ neural networks: each classical model from scikit-learn beside its neural
counterpart trained by the engine, on the same points, with both boundaries and both scores."""
import pandas as pd
import streamlit as st

from app_pages.bridges.map_tab import restore_saved_map, som_tab
from app_pages.bridges.state import (ALL_SETS, C_VALUES, GAMMAS, LR_STEPS, MAX_NOISE, NOISE_STEP, RBF_STEPS, RBF_UNITS,
                                     SVM_STEPS, TAB_NAMES, TRANSFER_SAMPLES, TREE_CRITERIA, TREE_DEPTHS, TREE_LOSSES,
                                     TREE_STEPS, TWO_CLASS_SETS, coefficient_rows, compute_logistic, compute_rbf,
                                     compute_svm, compute_transfer, compute_tree, default_widgets, relative_gap,
                                     widgets_from_query, widgets_to_query)
from app_pages.common.address import read_address_once, write_address
from app_pages.common.guide import page_title
from app_pages.common.live_plotly import static_chart_config
from app_pages.common.shell import ensure_global_seed
from app_pages.common.text import md_escape
from engine import ConfigError
from viz.bridges import add_points, add_rbf_units, convergence_figure, loss_curve_figure, side_figure, transfer_figure

state = st.session_state
CHART = static_chart_config("classical-bridges")  # a PNG button on hover

ensure_global_seed()
for key in default_widgets():  # Streamlit forgets a widget's value when another page (or tab) is shown
    if key in state:
        state[key] = state[key]
if "br_address_read" not in state and "br_som_run" not in state:  # the session's first visit
    restore_saved_map()
# The session's first visit: a shared address may carry the pair shown and every pair's settings
# (a restored map's own settings among them, the same values).
address_problems = read_address_once(state, st.query_params, "br_address_read", widgets_from_query)
for key, value in default_widgets().items():
    state.setdefault(key, value)
seed = int(state.global_seed)

# The fits are pure functions of their settings: remembered per process, so switching tabs
# or coming back to the page costs nothing.
cached_logistic = st.cache_data(show_spinner="Fitting both models…", max_entries=32)(compute_logistic)
cached_svm = st.cache_data(show_spinner="Fitting both models…", max_entries=32)(compute_svm)
cached_rbf = st.cache_data(show_spinner="Fitting both models…", max_entries=32)(compute_rbf)
cached_tree = st.cache_data(show_spinner="Fitting both models…", max_entries=32)(compute_tree)
cached_transfer = st.cache_data(show_spinner="Embedding the tweets with MiniLM and fitting both models…",
                                max_entries=4)(compute_transfer)


def scores(r: dict, classical: str, neural: str) -> None:
    m = st.columns(4)
    m[0].metric(f"{classical}: train", f"{r['train_acc_sklearn']:.1%}")
    m[1].metric(f"{classical}: test", f"{r['test_acc_sklearn']:.1%}")
    m[2].metric(f"{neural}: train", f"{r['train_acc_neuron']:.1%}")
    m[3].metric(f"{neural}: test", f"{r['test_acc_neuron']:.1%}",
                delta=f"{r['test_acc_neuron'] - r['test_acc_sklearn']:+.1%} vs {classical}", delta_color="off")


def data_controls(prefix: str, sets) -> list:
    c = st.columns([1.1, 1.1, 1, 1, 1, 1])
    c[0].selectbox("Data", sets, key=f"{prefix}_data")
    c[1].slider("Noise", 0.0, MAX_NOISE, step=NOISE_STEP, key=f"{prefix}_noise")
    return c[2:]


def fit(fn, *args):
    """Run a fit; a setting it refuses is reported on the page, not raised."""
    try:
        return fn(*args)
    except ConfigError as e:
        st.error(f"This setting is not possible: {e}.", icon="🚫")
        return None


page_title("🌉 Classical ML bridges", "bridges")
st.caption("Five classical models from scikit-learn, each beside the neural network that does the same job, trained "
           "by the engine on the same points (70 % to fit, 30 % held out for the test score). Same data, same "
           "problem, two routes: a convex solver on one side, gradient descent on the other.")
for problem in address_problems:  # the address's text is the visitor's, shown as text
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")
if "br_notice" in state:
    kind, text = state.pop("br_notice")
    (st.success if kind == "success" else st.warning)(text)


# ---------------- logistic regression ----------------
def logistic_tab() -> None:
    c = data_controls("br_lr", TWO_CLASS_SETS)
    c[0].select_slider("C (inverse penalty)", C_VALUES, key="br_lr_C",
                       help="scikit-learn's C. The neuron gets the matching L2 penalty |w|²/(2·C·n).")
    c[1].slider("Adam steps", *LR_STEPS[:2], step=LR_STEPS[2], key="br_lr_steps",
                help="Full-batch Adam from w = 0, then L-BFGS")
    r = fit(cached_logistic, state.br_lr_data, state.br_lr_noise, state.br_lr_C, state.br_lr_steps, seed)
    if r:
        ds = r["ds"]
        left, right = st.columns(2, gap="medium")
        left.plotly_chart(side_figure(r["plane_sklearn"], ds, "scikit-learn LogisticRegression: P(blue)"),
                          key="br_lr_sk", config=CHART)
        right.plotly_chart(side_figure(r["plane_neuron"], ds, "One sigmoid neuron (BCE + L2): P(blue)"),
                           key="br_lr_nn", config=CHART)
        scores(r, "Logistic regression", "Neuron")
        left, right = st.columns([1.2, 1], gap="medium")
        with left:
            st.markdown("**The neuron's weights during training, and scikit-learn's solution** (dashed)")
            st.plotly_chart(convergence_figure(r["path"], r["sklearn"]), key="br_lr_path", config=CHART)
        with right:
            st.markdown("**The same numbers**")
            st.dataframe(pd.DataFrame(coefficient_rows(r)), hide_index=True, key="br_lr_table",
                         column_config={k: st.column_config.NumberColumn(format="%.6f") for k in
                                        ("scikit-learn", "neuron after Adam", "neuron, final")}
                         | {"|difference|": st.column_config.NumberColumn(format="%.1e")})
            st.markdown(f"Largest gap: **{relative_gap(r):.1e}** of the largest weight. Objective "
                        f"½|w|² + C·Σ log-loss divided by C·n: scikit-learn **{r['objective_sklearn']:.8f}**, "
                        f"neuron **{r['objective_neuron']:.8f}**.")
        st.caption("What to see: logistic regression *is* one sigmoid neuron trained with cross-entropy. With the "
                   "penalty matched (scikit-learn's ½|w|² + C·Σ loss is the neuron's mean loss + |w|²/(2Cn), "
                   "multiplied by C·n) the two land on the same weights. Lower C: stronger penalty, smaller weights, "
                   "a softer slope of P(blue).")

# ---------------- linear SVM ----------------
def svm_tab() -> None:
    c = data_controls("br_svm", TWO_CLASS_SETS)
    c[0].select_slider("C (inverse penalty)", C_VALUES, key="br_svm_C")
    c[1].slider("Adam steps", *SVM_STEPS[:2], step=SVM_STEPS[2], key="br_svm_steps",
                help="Full-batch Adam, the step shrinking linearly to 1 % (hinge has a kink at the margin)")
    r = fit(cached_svm, state.br_svm_data, state.br_svm_noise, state.br_svm_C, state.br_svm_steps, seed)
    if r:
        ds = r["ds"]
        left, right = st.columns(2, gap="medium")
        fig = side_figure(r["plane_sklearn"], ds, f"scikit-learn SVC(kernel='linear'): {r['n_support_sklearn']} "
                                                  "support vectors (○)")
        left.plotly_chart(add_points(fig, r["support_sklearn"], "support vectors"), key="br_svm_sk", config=CHART)
        right.plotly_chart(side_figure(r["plane_neuron"], ds, f"Neuron with hinge loss + L2: {r['n_margin_neuron']} "
                                                              "points on or inside the margin"),
                           key="br_svm_nn", config=CHART)
        scores(r, "Linear SVM", "Hinge neuron")
        left, right = st.columns([1.2, 1], gap="medium")
        with left:
            st.markdown("**The neuron's weights during training, and the SVM's** (dashed)")
            st.plotly_chart(convergence_figure(r["path"], r["sklearn"]), key="br_svm_path", config=CHART)
        with right:
            st.markdown("**The same numbers**")
            st.dataframe(pd.DataFrame(coefficient_rows(r)).drop(columns=["neuron after Adam"]), hide_index=True,
                         key="br_svm_table")
            st.markdown(f"Largest gap: **{relative_gap(r):.1e}** of the largest weight. Objective "
                        f"½|w|² + C·Σ hinge, divided by C·n: SVM **{r['objective_sklearn']:.6f}**, neuron "
                        f"**{r['objective_neuron']:.6f}**.")
        st.caption("What to see: a linear SVM is one neuron with the hinge loss max(0, 1 − y·s) and an L2 penalty. "
                   "Only points on or inside the margin |s| ≤ 1 push on the weights — the support vectors. The "
                   "hinge has a kink, so plain gradient steps circle the optimum; the shrinking step brings the "
                   "neuron close to the SVM's exact solution, not onto it.")

# ---------------- RBF SVM vs RBF network ----------------
def rbf_tab() -> None:
    c = data_controls("br_rbf", ALL_SETS)
    c[0].select_slider("C", C_VALUES, key="br_rbf_C")
    c[1].select_slider("SVM kernel γ", GAMMAS, key="br_rbf_gamma", help="k(x, x') = exp(−γ|x − x'|²)")
    c[2].slider("Gaussian units", *RBF_UNITS, key="br_rbf_centres")
    c[3].slider("Adam steps", *RBF_STEPS[:2], step=RBF_STEPS[2], key="br_rbf_steps")
    r = fit(cached_rbf, state.br_rbf_data, state.br_rbf_noise, state.br_rbf_C, state.br_rbf_gamma,
            state.br_rbf_centres, state.br_rbf_steps, seed)
    if r:
        ds = r["ds"]
        left, right = st.columns(2, gap="medium")
        fig = side_figure(r["plane_sklearn"], ds, f"RBF-kernel SVM: {r['n_support']} support vectors (○), "
                                                  f"width {r['svm_width']:.2f} each")
        left.plotly_chart(add_points(fig, r["support_vectors"], "support vectors"), key="br_rbf_sk", config=CHART)
        fig = side_figure(r["plane_neuron"], ds, f"RBF network: {len(r['centres'])} learnt centres (✕) and widths")
        right.plotly_chart(add_rbf_units(fig, r["centres"], r["widths"], r["centres_initial"]), key="br_rbf_nn",
                           config=CHART)
        if r["diverged"]:
            st.warning("The network's loss became NaN; it keeps its last finite weights. Use fewer steps or "
                       "different units.", icon="⏸")
        scores(r, "RBF SVM", "RBF network")
        st.caption(f"What to see: both sum Gaussian bumps. The SVM puts one bump of the same width on every support "
                   f"vector ({r['n_support']} here) and solves for their weights exactly; the network has "
                   f"{len(r['centres'])} bumps and moves their centres (grey lines: from where they started) and "
                   f"sizes them (dotted circles: one σ) by gradient descent. Widths now range "
                   f"{r['widths'].min():.2f}–{r['widths'].max():.3g}" + (
                       "; a unit wider than the plane is flat over it, a constant that acts as a bias, and is not "
                       "circled." if r["widths"].max() > 6 else "."))

# ---------------- decision tree vs softmax network ----------------
def tree_tab() -> None:
    c = data_controls("br_tree", ALL_SETS)
    c[0].selectbox("Tree criterion", TREE_CRITERIA, key="br_tree_criterion")
    c[1].slider("Tree depth", *TREE_DEPTHS, key="br_tree_depth")
    c[2].selectbox("Network loss", TREE_LOSSES, key="br_tree_loss",
                   format_func=lambda v: {"gini": "Gini", "ce": "cross-entropy"}[v],
                   help="Gini: Σ_k (p_k − [y = k])², whose minimum on a leaf is its Gini impurity")
    c[3].slider("Adam steps", *TREE_STEPS[:2], step=TREE_STEPS[2], key="br_tree_steps")
    r = fit(cached_tree, state.br_tree_data, state.br_tree_noise, state.br_tree_criterion, state.br_tree_depth,
            state.br_tree_loss, state.br_tree_hidden, state.br_tree_steps, seed)
    if r:
        ds = r["ds"]
        left, right = st.columns(2, gap="medium")
        left.plotly_chart(side_figure(r["plane_sklearn"], ds, f"Decision tree ({state.br_tree_criterion}): depth "
                                                              f"{r['depth']}, {r['n_leaves']} leaves"),
                          key="br_tree_sk", config=CHART)
        right.plotly_chart(side_figure(r["plane_neuron"], ds, f"Softmax network 2→16→16→{ds.n_classes} (tanh), "
                                                              f"{r['n_params_net']} weights"),
                           key="br_tree_nn", config=CHART)
        scores(r, "Tree", "Network")
        left, right = st.columns([1.2, 1], gap="medium")
        loss_name = "Gini loss" if state.br_tree_loss == "gini" else "cross-entropy"
        with left:
            st.markdown(f"**The network's training {loss_name}**")
            fig = loss_curve_figure(r["train_loss"], loss_name)
            fig.add_hline(y=r["net_loss_at_tree"], line=dict(dash="dash", color="#888888"),
                          annotation_text="the tree's leaf shares, scored the same way")
            st.plotly_chart(fig, key="br_tree_loss_chart", config=CHART)
        with right:
            crit = "Gini impurity" if state.br_tree_criterion == "gini" else "entropy (in nats)"
            st.markdown(f"**One quantity, two names.** The tree's {crit}, averaged over its leaves weighted by "
                        f"their points: **{r['tree_impurity']:.4f}**. The matching network loss of predicting each "
                        f"point's leaf class shares: **{r['leaf_loss']:.4f}**.")
            st.markdown("A leaf predicts the class shares q of its points; the smallest mean loss of one prediction "
                        "on those points is their Gini impurity 1 − Σq² under the Gini loss Σ(p − y)², and their "
                        "entropy under cross-entropy. The tree lowers it by splitting, one axis at a time; the "
                        "network by gradient descent, with curved boundaries.")

def transfer_tab() -> None:
    st.markdown("A network trained on one task can be the feature extractor of another. MiniLM was trained on a "
                "billion sentence pairs; here its sentence vectors, frozen, feed a logistic-regression head that "
                "learns positive vs negative tweets from a handful of labelled examples. The model from scratch, "
                "TF-IDF words and word pairs with logistic regression, learns everything from those examples.")
    c = st.columns([1.2, 1, 2])
    c[0].selectbox("Tweets embedded", TRANSFER_SAMPLES, key="br_tr_n",
                   help="Positive and negative tweets of the corpus, drawn with the seed; the last third is the "
                        "test set for every point of the curve")
    key = (int(state.br_tr_n), seed)
    c[1].button("Compute the curve", key="br_tr_go", type="primary",
                on_click=lambda: state.update({"br_tr_asked": key}))
    c[2].caption("Loads the pretrained encoder and embeds every tweet once: about "
                 f"{int(state.br_tr_n) // 300 + 2}–{int(state.br_tr_n) // 100 + 5} s on a CPU, then remembered.")
    if state.get("br_tr_asked") != key:
        st.info("Press **Compute the curve**: each size of labelled set is drawn three times; both models are "
                "scored on the same held-out tweets.", icon="👆")
        return
    try:
        curve = cached_transfer(*key)
    except Exception as e:  # the encoder's files missing or unreadable: say so, keep the page
        st.error(f"The pretrained encoder could not be used here ({type(e).__name__}: {e}).", icon="🚫")
        return
    st.plotly_chart(transfer_figure(curve), key="br_tr_fig", config=CHART)
    small, large = 0, len(curve["sizes"]) - 1
    gap_small = curve["pretrained"][small].mean() - curve["scratch"][small].mean()
    gap_large = curve["pretrained"][large].mean() - curve["scratch"][large].mean()
    st.caption(f"What to see: with {curve['sizes'][small]} labelled tweets the head on frozen vectors scores "
               f"{curve['pretrained'][small].mean():.1%} and the model from scratch {curve['scratch'][small].mean():.1%} "
               f"(the majority class alone: {curve['majority']:.1%}) — a gap of {gap_small:+.1%}. With "
               f"{curve['sizes'][large]} the gap is {gap_large:+.1%}: the pretrained features matter most when "
               "labels are few. Bands: lowest to highest of three draws.")


# Only the open tab runs (on_change="rerun"): each pair is fitted when it is first looked at,
# and the map's live view ticks only while its tab is shown.
tabs = st.tabs(TAB_NAMES, key="br_tab", on_change="rerun")
bodies = (logistic_tab, svm_tab, rbf_tab, tree_tab, lambda: som_tab(seed), transfer_tab)
for tab, body in zip(tabs, bodies):
    with tab:
        if tab.open:
            body()
write_address(st.query_params, widgets_to_query(state, seed))  # copy the address to share this setup

with st.expander("Limits of this page"):
    st.markdown(
        "- Every 2-D set has 300 points; fits run on the CPU in a second or two and are remembered per setting.\n"
        "- The logistic pair agrees to about 1e-6 (L-BFGS in float64 after Adam). The hinge neuron, trained by "
        "subgradient steps, comes within about 1e-3 of the SVM's weights (relative), not onto them.\n"
        "- The decision tree and the network are not the same model: the bridge is their loss — the tree's "
        "impurity is the network's loss of predicting the leaf shares.\n"
        "- The map is trained online, one point at a time, with an exponentially decaying learning rate and "
        "Gaussian neighbourhood; the schedule ends after the chosen number of points.")
