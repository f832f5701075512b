"""The Sentiment lab page: page.py (widgets -> config -> engine -> figures) and state.py, its plain-Python logic (tested without Streamlit).
Its guide: docs/pages/sentiment.md."""
