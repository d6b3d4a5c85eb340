"""The SSAN app: `streamlit run app.py`. The pages are in pages/, listed in the sidebar by their titles
(`ui.page.PAGES`); the first, Scene, opens first."""

from __future__ import annotations

from ui import page

page.navigation().run()
