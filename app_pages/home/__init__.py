"""The Home page: page.py (widgets -> config -> engine -> figures).
Its guide: docs/pages/home.md."""
