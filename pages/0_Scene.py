"""Scene: choose a hyperspectral scene, look at it, pick a split, click pixels to see their spectra."""

from __future__ import annotations

from ui import loaders, page
from ui import scene_page as scene

page.setup("Scene")
scene.intro()
scene.scene_chooser()
ctx = page.context(with_model=False)
scene.scene_description(ctx)
scene.image_and_spectrum(ctx)
scene.split_section(ctx)
loaders.warm_up()  # the model code loads in the background while the class looks at this page
