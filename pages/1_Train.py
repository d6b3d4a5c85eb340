"""Train: fit a model on the current scene and split in the background, or load a saved one."""

from __future__ import annotations

from ui import page, training
from ui import train_page as train

page.setup("Train")
ctx = page.context()
train.header(ctx)
training.monitor("train_job", ctx)  # at the top: progress, Cancel and the curve stay above the fold
train.settings_and_start(ctx)
models = train.saved_models(ctx)
train.manage_models(models)
train.load_checkpoint_files(ctx)
