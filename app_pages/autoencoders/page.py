"""Autoencoders: squeeze 8×8 digits through a small code and back; a linear autoencoder
against PCA, deep, convolutional, sparse and denoising ones, a VAE (MLP or convolutional) with
and without the reparameterisation trick, and the codes as features for a classifier."""
import streamlit as st

from app_pages.autoencoders.linked import inspect_codes
from app_pages.autoencoders.saving import load_autoencoder
from app_pages.autoencoders.state import (BATCH_SIZES, BETAS, DEFAULT_PRESET, DEPTHS, GRID_SIZE, HIDDEN_WIDTHS,
                                          LEARNING_RATES, LOSS_LABELS, MODEL_LABELS, NOISE_LABELS, NOISE_LEVELS,
                                          NO_PRESET, PRESETS, SAVE_NAME, SPARSITY_WEIGHTS, AutoencoderRun,
                                          config_from_widgets, default_widgets, explain, fmt, preset_config,
                                          restored_widgets, sample_indices, widgets_from_config, widgets_from_query,
                                          widgets_to_query)
from app_pages.common.address import read_address_once, write_address
from app_pages.common.controls import ask_before_replacing, play_pause_button, replace_allowed
from app_pages.common.guide import page_title
from app_pages.common.live_plotly import live_plotly
from app_pages.common.saved_runs import forget_run, save_run, saved_trainer, use_seed
from app_pages.common.shell import app_device, ensure_global_seed
from app_pages.common.take_home import take_home_row
from app_pages.common.text import md_escape
from engine import ConfigError
from engine.autoencoders.models import CONV_KINDS, NOISE_TYPES, VARIATIONAL_KINDS
from engine.autoencoders.trainer import (MAX_LATENT, RECON_LOSSES, AutoencoderConfig, AutoencoderTrainer,
                                         structural_changes)
from engine.core.registries import ACTIVATIONS, OPTIMIZERS
from viz.autoencoders import (angles_figure, encoder_gradient_figure, image_rows_figure, latent_grid_figure,
                              latent_scatter_figure, loss_figure, probe_figure, single_image_figure)

state = st.session_state
STEP_BUTTON_STEPS = 100
EXPORT_STEPS = 1000  # what the notebook and the script train before anything is trained here


def restore_saved_autoencoder() -> None:
    """The autoencoder this browser last trained here (a reload, a laptop's sleep, a server
    restart), unless the address describes another setup: a shared link wins."""
    with st.spinner("Restoring your autoencoder…"):
        trainer, problem = saved_trainer(SAVE_NAME, lambda data: AutoencoderTrainer.from_checkpoint(data, app_device()),
                                         "autoencoder")
    if problem:
        state.ae_notice = ("warning", problem)
    if trainer is None:
        return
    values = restored_widgets(trainer.config, st.query_params.to_dict())
    if values is None:
        return
    state.update(values)
    state.ae_address_read = True  # the address is empty or describes this very setup: nothing more to read
    state.ae_run = AutoencoderRun(trainer)
    state.ae_run.autosave(lambda _: None)  # what is on disk is this very state: no need to save it again
    state.ae_notice = ("success", f"Restored your autoencoder at step {trainer.step_count:,}, as last saved. "
                                  "Press Play to go on.")
    use_seed(trainer.config.seed)


ensure_global_seed()
# Streamlit forgets a widget's value when another page is shown; writing it back keeps it.
for key in default_widgets():
    if key in state:
        state[key] = state[key]
if "ae_address_read" not in state and "ae_run" not in state:  # the session's first visit
    restore_saved_autoencoder()
# The session's first visit: a shared address may carry a setup (a preset, settings, the seed).
address_problems = read_address_once(state, st.query_params, "ae_address_read", widgets_from_query)
for key, value in default_widgets().items():
    state.setdefault(key, value)


# Button callbacks take the state they were drawn for: while the live view ticks, one click
# can arrive twice (with a tick and with the rerun it asks for), and a toggle would undo itself.
def on_preset() -> None:
    if state.ae_preset in PRESETS:
        state.update(widgets_from_config(preset_config(state.ae_preset, state.global_seed)))
        state.ae_replace_ok = True  # picking a preset is asking for its network


def widgets_of(config_json: str) -> dict:
    """The widgets' values (and the seed) for a config: "Keep the trained one" puts them back."""
    config = AutoencoderConfig.from_json(config_json)
    return {**widgets_from_config(config), "global_seed": config.seed}


def on_model() -> None:
    if state.ae_model == "linear":
        state.ae_recon = "squared"  # the only loss a linear (unbounded) output can take


def on_play_pause(play: bool) -> None:
    run = state.get("ae_run")
    if run is not None:
        run.play() if play else run.pause()


def on_step(step_drawn: int) -> None:
    run = state.get("ae_run")
    if run is not None and (run.playing or run.trainer.step_count == step_drawn):
        run.pause()
        run.step(STEP_BUTTON_STEPS)


def on_reset() -> None:
    state.pop("ae_run", None)
    forget_run(SAVE_NAME)  # a reload after Reset brings the new network, not the one thrown away


def save_autoencoder(checkpoint: bytes) -> None:
    state.ae_save_problem = save_run(SAVE_NAME, checkpoint)


page_title("🗜️ Autoencoders", "autoencoders")
st.caption("An autoencoder squeezes each 8×8 digit through a code of a few numbers and draws it back from that "
           "code alone. A **linear** one learns exactly what PCA finds; a **deep** or **convolutional** one does "
           "better with the same code size; a **sparse** one keeps most of a wide code switched off; a "
           "**denoising** one learns to clean corrupted digits; a **VAE** (with dense or convolutional layers) "
           "makes the code space smooth enough to draw new digits from. Press **Play** and watch the codes of the "
           "test digits sort themselves into clusters. Click the code plane to see what the decoder draws at that "
           "point.")
for problem in address_problems:  # the address's text is the visitor's, shown as text
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")
if "ae_notice" in state:
    kind, text = state.pop("ae_notice")
    (st.success if kind == "success" else st.warning)(text)

run: AutoencoderRun | None = state.get("ae_run")
bar = st.columns([1.1, 1.2, 1.1, 3.6])  # the buttons are drawn into it once the run is up to date
bar[3].selectbox("Preset", [NO_PRESET] + list(PRESETS), key="ae_preset", on_change=on_preset,
                 label_visibility="collapsed")

kind = state.ae_model
variational = kind in VARIATIONAL_KINDS
no_hidden = kind == "linear" or kind in CONV_KINDS
c = st.columns([1.5, 1.2, 1.2, 0.9, 1.1, 1.5])
c[0].selectbox("Model", list(MODEL_LABELS), key="ae_model", format_func=MODEL_LABELS.get, on_change=on_model)
c[1].slider("Code size k", 1, MAX_LATENT, key="ae_latent",
            help="Numbers per code. 2 draws the code plane; more reconstruct better")
c[2].select_slider("Hidden width", HIDDEN_WIDTHS, key="ae_hidden", disabled=no_hidden,
                   help="Units per hidden layer (the linear model has none; the convolutional ones have fixed "
                        "layers: 8 and 16 channels)")
c[3].selectbox("Depth", DEPTHS, key="ae_depth", disabled=no_hidden,
               help="Hidden layers in the encoder; the decoder mirrors them")
c[4].selectbox("Activation", list(ACTIVATIONS), key="ae_activation", disabled=kind == "linear")
c[5].selectbox("Reconstruction loss", RECON_LOSSES, key="ae_recon", format_func=LOSS_LABELS.get,
               help="Per image, summed over the 64 pixels. The linear model trains on squared error, as PCA")
c = st.columns([1.3, 1.5, 1.3, 1.5, 1.3])
c[0].select_slider("β (KL weight)", BETAS, key="ae_beta", disabled=not variational,
                   help="VAE and convolutional VAE: loss = reconstruction + β·KL. Applied to the running "
                        "network at once")
with c[1]:
    st.toggle("Reparameterisation trick", key="ae_reparam", disabled=not variational,
              help="VAE and convolutional VAE: z = μ + σ·ε lets the gradient through to μ and σ. Off: z is a "
                   "plain sample and the reconstruction's gradient stops there. Switches on the running network")
c[2].select_slider("Sparsity weight", SPARSITY_WEIGHTS, key="ae_sparsity", disabled=kind != "sparse",
                   help="Sparse: loss = reconstruction + weight × mean |z| over the code's numbers. Applied to the "
                        "running network at once")
c[3].selectbox("Input noise", NOISE_TYPES, key="ae_noise", format_func=NOISE_LABELS.get,
               disabled=kind != "denoising", help="Denoising: how the training inputs are corrupted")
c[4].select_slider("Noise level", NOISE_LEVELS, key="ae_noise_level", disabled=kind != "denoising",
                   help="Denoising: the Gaussian's σ, or the share of pixels set to 0. Applied to the running "
                        "network at once; the test views use a fixed corrupted copy")
c = st.columns([1.3, 1.5, 1.5, 2.6])
c[0].selectbox("Optimiser", OPTIMIZERS, key="ae_optimizer")
c[1].select_slider("Learning rate", LEARNING_RATES, key="ae_lr", help="Applied to the running network at once")
c[2].select_slider("Batch size", BATCH_SIZES, key="ae_batch", help="Applied to the running network at once")
write_address(st.query_params, widgets_to_query(state, state.global_seed))  # copy the address to share this setup

# ---------- widgets -> the run ----------
try:
    config = config_from_widgets(state, state.global_seed)
except ConfigError as e:
    st.error(f"This setting is not possible: {e}. The last valid network keeps running.", icon="🚫")
    config = run.trainer.config if run else preset_config(DEFAULT_PRESET, state.global_seed)
# A preset replaces the network at once; a widget change that would throw away a trained
# network asks first, and until the user chooses the trained one runs on with the hot settings.
replace_ok = replace_allowed("ae_replace_ok", config.to_json())
if run is None:
    with st.spinner("Loading the digits and building the network…"):
        run = state.ae_run = AutoencoderRun.build(config, app_device())
elif (changed := structural_changes(run.trainer.config, config)) and run.trainer.step_count >= 1 and not replace_ok:
    run.apply_hot(config)
    ask_before_replacing(None, changed, f"{run.trainer.step_count:,} steps", "ae", wanted_json=config.to_json(),
                         running_json=run.trainer.config.to_json(), flag_key="ae_replace_ok", widgets_for=widgets_of)
else:
    changed = run.apply(config)
    if changed:
        run = state.ae_run = AutoencoderRun.build(config, app_device(), playing=run.playing)
        forget_run(SAVE_NAME)  # the trained one was thrown away: a reload must not bring it back
        st.toast(f"New network: {', '.join(changed)} changed")

# Drawn for the run as it is now: a Step click right after a structural change acts on the new network.
playing = run.playing
play_pause_button(bar[0], "ae", playing, on_play_pause, help="Train live")
bar[1].button(f"⏭ {STEP_BUTTON_STEPS} steps", key="ae_step", on_click=on_step, args=(run.trainer.step_count,),
              use_container_width=True, help=f"Train exactly {STEP_BUTTON_STEPS} optimisation steps")
bar[2].button("↺ Reset", key="ae_reset", on_click=on_reset, use_container_width=True,
              help="New initial weights, history cleared")


# ---------- the live view ----------
@st.fragment(run_every=run.pace.run_every(run.playing))
def live_view() -> None:
    run: AutoencoderRun = state.ae_run
    with run.pace.frame(run.playing) as frame:
        if run.pace.cut_short():
            st.rerun()  # frames are cut short before they are drawn: the live view anew, with a longer interval
        snap = run.tick()
        frame.trained()
        draw_live_view(run, snap)
    if not run.playing and playing:
        st.rerun()  # stopped by itself: redraw the Play button
    if run.playing and run.pace.interval_is_stale():
        st.rerun()  # draw the live view again with a frame interval that fits the frames


def draw_live_view(run: AutoencoderRun, snap) -> None:
    trainer, cfg = run.trainer, run.trainer.config
    kind = cfg.model.kind
    if run.message:
        st.warning(run.message, icon="⏸")
    m = st.columns(6)
    m[0].metric("Step", f"{snap.step:,}")
    m[1].metric("Test loss", fmt(snap.test_loss), help="Mean squared reconstruction error per pixel of the test "
                "images, pixels on the [0, 1] scale: comparable across every model and loss")
    m[2].metric("Test objective", fmt(snap.test_objective), help="What training minimises, per test image: " + (
        "reconstruction + β·KL, decoding the mean code" if trainer.variational else
        "reconstruction + the sparsity penalty" if kind == "sparse" else
        "reconstruction loss of the clean image" if kind == "denoising" else "reconstruction loss"))
    m[3].metric(f"PCA, k = {cfg.latent_dim}", fmt(snap.pca_test_error),
                help="The same squared error for PCA with as many components as the code has numbers")
    if kind == "linear":
        m[4].metric("Largest angle to PCA", f"{snap.principal_angles_deg[-1]:.1f}°",
                    help="Largest principal angle between the decoder's span and PCA's top-k subspace")
    elif kind == "sparse":
        m[4].metric("Code numbers on", f"{snap.test_active_codes:.0%}",
                    help="Share of the test codes' numbers that are not 0 (the sparse code goes through a ReLU)")
    elif kind == "denoising":
        m[4].metric("Denoised test error", fmt(snap.test_denoise_error),
                    help=f"Σ (x̂ − x)² per test image, reconstructing a corrupted copy; the corruption alone: "
                         f"{fmt(snap.test_noisy_input_error)}")
    else:
        m[4].metric("Encoder ‖∇‖ from recon.", fmt(snap.encoder_grad_norm_recon),
                    help="Gradient norm the reconstruction loss sent into the encoder's weights at the last step")
    m[5].metric("Steps / s", f"{run.steps_per_second:,.0f}" if run.playing else "—")
    st.markdown(" ".join(explain(snap, cfg)))

    codes, labels = trainer.test_codes()
    plane = trainer.code_plane(codes)
    grid = trainer.latent_grid(GRID_SIZE, plane=plane)
    names = ("PC 1 of the codes", "PC 2 of the codes") if plane["projected"] else None
    left, right = st.columns(2, gap="medium")
    with left:
        title = "**The codes of the test digits**"
        if cfg.latent_dim > 2:
            title += f" ({cfg.latent_dim} numbers each, projected on their first two principal components)"
        st.markdown(title + " — click anywhere to decode that point")
        # A click is handed to run.click before this rerun draws: this very frame marks and decodes it.
        live_plotly(latent_scatter_figure(plane["coords"], labels, grid["axes"], run.clicked, axis_names=names),
                    key="ae_scatter", on_click=lambda point: state.ae_run.click(point["x"], point["y"]))
        st.caption("Each dot is one test image, coloured by its digit; the encoder has never been told the digits. "
                   "Digits that look alike land close together.")
    with right:
        st.markdown("**What the decoder draws over the same plane**" if cfg.latent_dim > 1 else
                    "**What the decoder draws along the code**")
        live_plotly(latent_grid_figure(grid["axes"], grid["images"], axis_names=names), key="ae_grid")
        st.caption("Each small image is decoded from the code at its position" +
                   (" (the mean code moved along the two principal directions of the codes: a slice through the "
                    f"{cfg.latent_dim}-dimensional code space)" if plane["projected"] else "") +
                   ". Between the clusters the decoder morphs one digit into another" +
                   (", and a VAE leaves fewer holes there." if trainer.variational else "."))

    point = run.clicked_code(plane)
    sample = sample_indices(labels)
    x = trainer.x_test_np[sample]
    pca_row = (f"PCA, k = {cfg.latent_dim}", trainer.pca.reconstruct(x))
    if kind == "denoising":
        noisy = trainer.noisy_test_images()[sample]
        rows = [("original", x), ("noisy input", noisy), ("denoised", trainer.reconstruct(noisy)),
                (f"PCA of it, k = {cfg.latent_dim}", trainer.pca.reconstruct(noisy))]
        heading = "**Test digits, corrupted, and what the autoencoder and PCA make of the corrupted ones**"
    else:
        rows = [("original", x), ("autoencoder", trainer.reconstruct(x)), pca_row]
        heading = "**Test digits, their reconstructions, and PCA's with the same code size**"
    left, right = st.columns([3.2, 1], gap="medium")
    with left:
        st.markdown(heading)
        live_plotly(image_rows_figure(rows), key="ae_rows")
    with right:
        if point is None:
            st.markdown("**Decoded point**")
            st.caption("Click the code plane on the left to decode any point of it.")
        else:
            where = ", ".join(f"{v:.2f}" for v in run.clicked[:min(2, cfg.latent_dim)])
            st.markdown(f"**Decoded at ({where})**")
            live_plotly(single_image_figure(trainer.decode(point)[0], height=170), key="ae_point")

    left, right = st.columns(2, gap="medium")
    with left:
        st.markdown("**Loss against step** (log scale)")
        live_plotly(loss_figure(trainer.history, trainer.variational, cfg.train.loss == "squared"), key="ae_loss")
        st.caption("The dashed line is PCA with the same number of components: a linear autoencoder closes in on "
                   "it and never goes below it on the training images; a nonlinear one can.")
    with right:
        if kind == "linear":
            st.markdown("**Principal angles between the decoder's span and PCA's subspace**")
            live_plotly(angles_figure(trainer.history), key="ae_angles")
            st.caption("All angles fall toward 0°: the linear autoencoder finds PCA's subspace, though not its "
                       "individual axes.")
        else:
            st.markdown("**Gradient reaching the encoder, by loss term**")
            penalty = "β·KL" if trainer.variational else "the L1 penalty" if kind == "sparse" else None
            live_plotly(encoder_gradient_figure(trainer.history, penalty), key="ae_grad")
            st.caption("Switch the reparameterisation trick off on a running VAE and the blue line drops to exactly "
                       "0: no gradient of the reconstruction reaches μ and log σ²." if trainer.variational else
                       "The L1 penalty pulls every code number toward 0; the reconstruction pulls back the ones it "
                       "needs." if kind == "sparse" else "This autoencoder has only the reconstruction term.")

    left, right = st.columns([1.6, 1], gap="medium")
    with left:
        st.markdown("**The encoder as a feature extractor**: a classifier on the codes")
        probe = run.probe_accuracies()
        live_plotly(probe_figure(probe, cfg.latent_dim), key="ae_probe")
        st.caption(f"The same softmax classifier (multinomial logistic regression on standardised features), fitted "
                   f"on the training digits and scored on the test digits, from {cfg.latent_dim} code "
                   f"number{'s' if cfg.latent_dim > 1 else ''}, from PCA's {cfg.latent_dim} coordinates and from "
                   f"all 64 pixels (fitted at step {run.probe_step:,}). The encoder was never shown a label: what "
                   "the classifier finds, the code picked up by learning to redraw the digits.")
    with right:
        gain = probe["codes"] - probe["pca"]
        st.markdown(f"With **{cfg.latent_dim}** number{'s' if cfg.latent_dim > 1 else ''} per digit the "
                    f"autoencoder's codes give **{probe['codes']:.1%}** test accuracy, PCA's **{probe['pca']:.1%}** "
                    f"({gain:+.1%} for the autoencoder); the raw pixels {probe['pixels']:.1%}. Chance is 10 %.")
    run.autosave(save_autoencoder)
    if state.get("ae_save_problem"):
        st.caption(state.ae_save_problem)


live_view()
inspect_codes(state.ae_run)

st.subheader("Take it home")
st.caption("The notebook rebuilds this autoencoder in plain PyTorch, one step a cell with what it does and why, "
           "trains it as many steps as trained here and prints the losses this page shows for the seed; the script "
           "is the same code as one file. Save keeps this run (weights, optimiser, progress) to Load here later.")
trained = state.ae_run.trainer
take_home_row(trained.config, key="autoencoder", what="autoencoder", steps=trained.step_count or EXPORT_STEPS,
              checkpoint=trained.checkpoint_bytes if trained.step_count else None, on_load=load_autoencoder)

with st.expander("How it works, and the limits"):
    st.markdown(
        "**Data**: the 1,797 handwritten digits (8×8 pixels, 0–16 scaled to [0, 1]) that ship with scikit-learn; "
        "a stratified 20 % are held out as test images; the seed in the sidebar fixes the split, the initial "
        "weights, the batch order and every noise draw (the VAE's ε, the denoising autoencoder's corruption).\n\n"
        "**Models**: linear (no activation); deep (an MLP of 1–3 hidden layers); convolutional (two 3×3 "
        "convolutions of stride 2, 8 and 16 channels, a linear layer to the code, transposed convolutions back); "
        "sparse (the deep one with a ReLU code and loss + weight × mean |z|); denoising (the deep one trained to "
        "give back the clean digit from a corrupted one: Gaussian noise, clipped to [0, 1], or pixels set to 0; "
        "the noise is drawn in training only, the test views use one fixed corrupted copy); VAE (the deep one "
        "whose encoder gives the mean μ and log-variance log σ² of a Gaussian code); convolutional VAE, the "
        "shape of the Deep Convolutional Inverse Graphics Network (DCIGN, Kulkarni et al., 2015): the "
        "convolutional encoder's 64 features feed a μ head and a log σ² head, the sampled code goes back "
        "through the transposed convolutions, and β, the trick and every VAE view work as for the VAE.\n\n"
        "**Losses**: training minimises a loss per image, summed over the 64 pixels: squared error Σ(x̂ − x)², "
        "or the pixels' binary cross-entropy; a VAE adds β·KL(N(μ, σ²) ‖ N(0, 1)), a sparse autoencoder "
        "weight × mean |z| (the *test objective*). The *test loss* is the same for every model: the squared "
        "error per pixel, pixels on the [0, 1] scale. The VAE's numbers decode the mean code μ, so they do not "
        "jitter with the noise.\n\n"
        "**Linear autoencoder = PCA** (Baldi & Hornik, 1989): with no activation and squared error, the best "
        "decoder spans the same k-dimensional subspace as PCA's first k components, so its training error can "
        "reach PCA's but not go below it (it can on the test images, which PCA was not fitted to).\n\n"
        "**The reparameterisation trick** (Kingma & Welling, 2014) writes the sample as z = μ + σ·ε with ε drawn "
        "from N(0, 1), a function of μ and σ that autograd can differentiate. Without it the draw is a plain "
        "number and the reconstruction's gradient stops at z; the page measures that gradient at every step.\n\n"
        "**Feature extractor**: a multinomial logistic regression (L-BFGS, L2 weight 0.001, standardised "
        "features) on the training codes, scored on the test codes; the same on PCA's coordinates and on the "
        "pixels. While playing it is refitted every 2 s.\n\n"
        f"**Limits**: codes of 1–{MAX_LATENT} numbers; up to 3 hidden layers of 256 units on this page. A "
        "longer code is drawn on the plane of its first two principal components (over the test codes), and a "
        "click decodes the point of that plane: the test codes' mean plus the clicked mix of the two components. Training "
        "runs about 0.1 s per frame, three frames a second, on one CPU thread.")
