"""The Vanishing gradients page: page.py (widgets -> config -> engine -> figures), state.py (its plain-Python
logic, tested without Streamlit: widgets <-> config, the networks compared side by side), readings.py (the
numbers and sentences read out of them) and lab_checkpoint.py (the networks saved together and restored).
Its guide: docs/pages/vanishing.md."""
