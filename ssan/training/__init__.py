"""Training: one `train` for every model on the best device there is, and how long it will take."""
