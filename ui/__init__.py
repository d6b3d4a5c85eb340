"""Streamlit-side helpers shared by the app's pages: session state, cached loaders, the sidebar,
the clickable scene image, the training monitor. The computing lives in `ssan`."""
