"""The Architecture map page: page.py (widgets -> config -> engine -> figures).
Its guide: docs/pages/zoo.md."""
