import streamlit as st

from app_pages.common.guide import page_title
from app_pages.registry import LEARNING_PATH, PAGES

page_title("🧠 Neural Playground", "home")
st.markdown(
    "Build a neural network, train it **live** with real PyTorch, and look inside it while it learns: "
    "loss curves, the decision boundary, what every neuron computes, gradient sizes layer by layer."
)

st.subheader("The learning path")
pages_by_url = {p.url_path: p for p in PAGES}
for number, (step, url_path) in enumerate(LEARNING_PATH, start=1):
    page = pages_by_url.get(url_path)
    if page:
        st.page_link(page.path, label=f"{number}. {step}", icon=page.icon)
        st.caption(page.teaches)
    else:
        st.markdown(f"{number}. {step} — *coming*")

st.subheader("Start here")
st.markdown(
    "Open the **Playground**, press ▶ **Play** and watch a small network learn to separate two rings of points. "
    "Then change the learning rate while it trains, add a layer, try the *Spiral*, or the *Overfit me* preset "
    "followed by *Cure overfitting with L2*."
)
