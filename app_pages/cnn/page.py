"""Convolutions: one kernel sliding over one digit, cell by cell; a CNN that reads the digits trained
live, looked inside (filters, feature maps, receptive fields, saliency) and tried on your own drawing;
and a CNN against an MLP of the same size on digits moved by a pixel or two."""
import streamlit as st

from app_pages.cnn.operation import operation_section
from app_pages.cnn.operation_state import OP_DEFAULTS, OP_URL_PARAMS
from app_pages.cnn.pair import pair_section
from app_pages.cnn.runs import CNNRun
from app_pages.cnn.state import (SAVE_NAME, TRAIN_URL_PARAMS, address_defaults, default_widgets, restored_widgets,
                                 widgets_from_query)
from app_pages.cnn.train import train_section
from app_pages.common import address
from app_pages.common.address import one_of, read_address_once, write_address
from app_pages.common.guide import page_title
from app_pages.common.saved_runs import saved_trainer, use_seed
from app_pages.common.shell import app_device, ensure_global_seed
from app_pages.common.text import md_escape
from engine.cnn.trainer import CNNTrainer

state = st.session_state
TABS = {"kernel": "① One kernel", "train": "② Train a CNN", "compare": "③ CNN vs MLP"}
URL_PARAMS = [one_of("tab", "cv_tab", TABS), *TRAIN_URL_PARAMS, *OP_URL_PARAMS]


def page_defaults() -> dict:
    return {"cv_tab": TABS["kernel"], **default_widgets(), **OP_DEFAULTS}


def page_query(values, seed: int) -> dict[str, str]:
    """The address for these widget values: what differs from the defaults (or the preset), and the seed."""
    preset = values.get("cv_preset")
    return address.widgets_to_query(URL_PARAMS, values, {**page_defaults(), **address_defaults(preset)}, seed)


def page_from_query(query) -> tuple[dict, list[str]]:
    values, problems = widgets_from_query(query)
    rest, more = address.widgets_from_query([URL_PARAMS[0], *OP_URL_PARAMS], query)
    return {**values, **rest}, problems + [p for p in more if p not in problems]


def restore_saved_cnn() -> None:
    """The CNN this browser last trained here (a reload, a laptop's sleep, a server restart), unless
    the address describes another network: a shared link wins."""
    with st.spinner("Restoring your network…"):
        trainer, problem = saved_trainer(SAVE_NAME, lambda data: CNNTrainer.from_checkpoint(data, app_device()),
                                         "network")
    if problem:
        state.cv_notice = ("warning", problem)
    if trainer is None:
        return
    values = restored_widgets(trainer.config, st.query_params.to_dict(), page_query)
    if values is None:
        return
    state.update(values)
    state.cv_run = CNNRun(trainer)
    state.cv_run.autosave(lambda _: None)  # what is on disk is this very state: no need to save it again
    state.cv_notice = ("success", f"Restored your network at step {trainer.step_count:,}, as last saved. "
                                  "Press Play to go on.")
    use_seed(trainer.config.seed)


ensure_global_seed()
defaults = page_defaults()
# Streamlit forgets a widget's value when another page is shown; writing it back keeps it.
for key in defaults:
    if key in state:
        state[key] = state[key]
if "cv_address_read" not in state and "cv_run" not in state:  # the session's first visit
    restore_saved_cnn()
address_problems = read_address_once(state, st.query_params, "cv_address_read", page_from_query)
for key, value in defaults.items():
    state.setdefault(key, value)

page_title("🔳 Convolutions", "cnn")
st.caption("A convolution slides one small kernel over the whole image, so the same pattern is found wherever it "
           "is. Step a kernel over a digit cell by cell; then train a convolutional network on scikit-learn's "
           "8×8 digits and look inside it while it learns, draw your own digit for it to read, and set it against "
           "a dense network of the same size on digits moved by a pixel.")
for problem in address_problems:  # the address's text is the visitor's, shown as text
    st.warning(f"The address: {md_escape(problem)}.", icon="🔗")
if "cv_notice" in state:
    kind, text = state.pop("cv_notice")
    (st.success if kind == "success" else st.warning)(text)

kernel_tab, train_tab, pair_tab = st.tabs(list(TABS.values()), key="cv_tab", on_change="rerun")
with kernel_tab:
    if kernel_tab.open:
        operation_section()
with train_tab:
    if train_tab.open:
        train_section()
with pair_tab:
    if pair_tab.open:
        pair_section()
write_address(st.query_params, page_query(state, state.global_seed))  # copy the address to share this setup

with st.expander("How it works, and the limits"):
    st.markdown(
        "**Data**: the 1,797 handwritten digits (8×8 pixels, 0–16 scaled to [0, 1]) that ship with scikit-learn; "
        "a stratified 20 % are held out as test digits; the seed in the sidebar fixes the split, the initial "
        "weights, the batch order and dropout.\n\n"
        "**A conv layer** maps C_in maps to C_out maps with C_out·C_in kernels of k×k weights and C_out biases; "
        "each output cell is the sum of one window's element-wise products with its kernel. The output side is "
        "⌊(n + 2p − d(k−1) − 1)/s⌋ + 1 for an input side n, padding p, dilation d, kernel k and stride s.\n\n"
        "**The default network** (global max pooling) pads each 3×3 layer by 2, so the maps grow 8 → 10 → 12 → "
        "14 and every position where a kernel touches the digit is scored, and its head takes each channel's "
        "largest value anywhere: a digit moved by a pixel gives nearly the same features. LeNet-style and tiny "
        "VGG pool by 2×2 and flatten; the all-convolutional one shrinks the maps with stride 2.\n\n"
        "**Shifted test**: the test digits moved by one pixel up, down, left and right (blank paper coming in), "
        "the mean accuracy over the four; nothing is trained on moved digits.\n\n"
        "**Saliency**: |∂ score of the predicted digit / ∂ pixel|. **Receptive field**: the input pixels a cell "
        "depends on, from the kernels, strides, paddings, dilations and pooling on the way.\n\n"
        "**Limits**: 1–6 conv layers of 1–64 channels, kernels up to 7×7, at most 2,000,000 parameters. While "
        "playing, loss and accuracy over every digit are measured about once a second; the charts in between "
        "show the last measurement.")
