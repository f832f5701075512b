"""Neural Playground: the router. Lists the pages, draws the shared sidebar (device, seed)."""
# Pages live in app_pages/, not pages/: Streamlit treats a folder named pages/ beside the
# main script as old-style automatic pages, which clashes with st.navigation.
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched from a model hub at run time

import streamlit as st

from app_pages import registry
from app_pages.common.saved_runs import session_key
from app_pages.common.shell import prepare_engine, sidebar, warm_up_engine

st.set_page_config(page_title="Neural Playground", page_icon="🧠", layout="wide")
st.html(Path(__file__).with_name("assets").joinpath("style.css").read_text().join(["<style>", "</style>"]))


def _page(info: registry.PageInfo) -> st.Page:
    # Streamlit serves the default page at "/" only, whatever its url_path; its name in the page
    # list ("/home") is a hidden page below that sends the browser there.
    if info.default:
        return st.Page(info.path, title=info.title, icon=info.icon, default=True)
    return st.Page(info.path, title=info.title, icon=info.icon, url_path=info.url_path)


pages = [_page(p) for p in registry.PAGES]
home = next(page for page, info in zip(pages, registry.PAGES) if info.default)


def go_home() -> None:
    st.switch_page(home)


aliases = [st.Page(go_home, title="Home", url_path=registry.HOME, visibility="hidden")]
navigation = st.navigation(pages + aliases, expanded=True)  # every page listed, none behind "View more"
# The Home page needs no PyTorch: it opens without importing it (seconds on a small machine),
# and PyTorch is imported in the background for the page the user opens next.
light = navigation.url_path in ("", registry.HOME)
if not light:
    prepare_engine()
sidebar()
with st.sidebar:
    session_key()  # read from this browser's cookie, or made and written to it (saved runs are filed under it)
if not light:
    from app_pages.common.live_plotly import preload_plotly
    preload_plotly()
navigation.run()
if light:
    warm_up_engine()
