"""Pure figure builders: data in, plotly figure (or image) out. No st.* here."""
