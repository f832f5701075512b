"""Neural Playground: the router. Lists the pages, draws the shared sidebar (device, seed)."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is fetched from a model hub at run time

import streamlit as st

from pages import registry
from pages.common import sidebar

st.set_page_config(page_title="Neural Playground", page_icon="🧠", layout="wide")

navigation = st.navigation([st.Page(p.path, title=p.title, icon=p.icon, url_path=p.url_path, default=p.default)
                            for p in registry.PAGES])
sidebar()
navigation.run()
