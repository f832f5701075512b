"""The Classical ML bridges page: page.py (widgets -> config -> engine -> figures), map_tab.py (the live
self-organising map, saved and restored) and state.py, its plain-Python logic (tested without Streamlit).
Its guide: docs/pages/bridges.md."""
