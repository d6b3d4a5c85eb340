"""Images without a plotting library: false-colour composites, label colours, and class maps as PNG."""
