"""The charts an AppTest run drew: st.plotly_chart ones and the live views' in-place charts
(app_pages/common/live_plotly.py), each as the figure dict plotly.js receives."""
from __future__ import annotations

import json

LIVE_PLOTLY = "neural_playground.live_plotly"


def charts(at) -> dict[str, dict]:
    """Every Plotly chart on the page, by the key it was drawn with (its element id's last part)."""
    found = {c.proto.id.split("-")[-1]: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    for e in at.get("bidi_component"):
        if e.proto.component_name == LIVE_PLOTLY:
            found[e.proto.id.split("-")[-1]] = json.loads(json.loads(e.proto.json)["figure"])
    return found


def live_keys(at) -> set[str]:
    """The keys of the charts drawn in place (not by st.plotly_chart)."""
    return {e.proto.id.split("-")[-1] for e in at.get("bidi_component") if e.proto.component_name == LIVE_PLOTLY}
