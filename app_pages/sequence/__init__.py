"""The Sequence models page: page.py (widgets -> config -> engine -> figures) and state.py, its plain-Python logic (tested without Streamlit).
Its guide: docs/pages/sequence.md."""
