"""Parts every page shares: the shell (sidebar, device, seed), the controls (Play/Pause,
the ask-before-discard question), the live canvas and live Plotly charts drawn in place,
and the adaptive frame interval of a live view."""
