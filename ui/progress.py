"""A download progress bar: pooch's progress-bar protocol drawn with `st.progress`."""

from __future__ import annotations

import streamlit as st


class StreamlitProgress:
    """Duck-types the progress bar pooch drives: it sets `total`, calls `update(n)` per chunk,
    then `reset()`, `update(total)` and `close()` at the end of each file."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.total: int | None = None
        self.n = 0
        self._shown = -1
        self._bar = st.progress(0.0, text=f"{label}: starting…")

    def update(self, n: int) -> None:
        self.n += n
        if not self.total:
            self._bar.progress(0.0, text=f"{self.label}: {self.n / 1e6:.1f} MB")
            return
        percent = min(100, int(100 * self.n / self.total))
        if percent != self._shown:  # one message per percent, not per 256 kB chunk
            self._shown = percent
            self._bar.progress(
                percent / 100,
                text=f"{self.label}: {self.n / 1e6:.1f} of {self.total / 1e6:.1f} MB ({percent}%)",
            )

    def reset(self) -> None:
        self.n, self._shown = 0, -1

    def close(self) -> None:
        self._shown = -1
