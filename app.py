"""Neural Playground: the router. Lists the pages, draws the shared sidebar (device, seed)."""
# Pages live in app_pages/, not pages/: Streamlit treats a folder named pages/ beside the
# main script as old-style automatic pages, which clashes with st.navigation.
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched from a model hub at run time

import streamlit as st

from app_pages import registry
from app_pages.common.shell import prepare_engine, sidebar, warm_up_engine

st.set_page_config(page_title="Neural Playground", page_icon="🧠", layout="wide")
st.html(Path(__file__).with_name("assets").joinpath("style.css").read_text().join(["<style>", "</style>"]))

navigation = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p.default)
                            for p in registry.PAGES])
# The Home page needs no PyTorch: it opens without importing it (seconds on a small machine),
# and PyTorch is imported in the background for the page the user opens next.
light = navigation.url_path in ("", "home")
if not light:
    prepare_engine()
sidebar()
if not light:
    from app_pages.common.live_plotly import preload_plotly
    preload_plotly()
navigation.run()
if light:
    warm_up_engine()
