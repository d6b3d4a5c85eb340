"""Scenes and what is cut from them before any model: readers, the demo town, the Pavia files,
train / validation / test splits, and preprocessing fitted on the training pixels."""
