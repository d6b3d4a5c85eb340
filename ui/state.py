"""Session state: the defaults every page relies on, and widgets whose values survive page switches.

Streamlit forgets a widget's value when a page without that widget runs, and a widget on
another page is another widget even under the same key. Each persistent setting therefore
lives under its own key (e.g. "stretch"); its widget gets a shadow key ("w_stretch") set from
it before every draw and copies its value back on change (`bound`).
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from typing import Any

import streamlit as st

DEFAULTS: dict[str, Any] = {
    # scene: what the chooser shows, and the spec of the scene actually loaded (a cache key)
    "scene_choice": "demo",
    "scene_spec": ("demo",),
    "scene_path": "",
    "gt_path": "",
    "scene_names": "",  # class names for an own scene ("" = from the file)
    "scene_wavelengths": "",  # band centres for an own scene ("" = from the file, else a guess)
    # split
    "split_kind": "paper",
    "split_n": 100,
    "split_fraction": 0.05,
    "split_seed": 0,
    "split_fixed": {},  # scene_key(spec) -> the fixed split's protocol (fixed:TRAIN,TEST) chosen for it
    # presentation mode (set from the URL's ?present=1 on a fresh session, see ui.page.setup)
    "present": False,
    # viewer
    "rgb_nm": (640.0, 550.0, 470.0),
    "stretch": (2.0, 98.0),
    "gt_opacity": 0.35,
    "pixel": None,  # (row, col) in the loaded scene, shown on every page
    "pinned": [],  # pinned (row, col) pixels of the loaded scene, on every page's image
    "scene_views": {},  # scene_key(spec) -> (pixel, pinned) of each scene loaded before (see switch_scene)
    "patch_opacity": 0.5,
    "mask_stretch": True,
    # models: the chosen checkpoint folder per scene spec
    "model_dirs": {},
    # training
    "train_model": "ssan",
    "train_preset": "quick",
    "train_seed": 0,
    "adv_iterations": None,  # None = the preset's value
    "adv_eval_every": None,
    "adv_batch_size": None,
    "adv_lr": None,
    "train_job": None,
    "compare_job": None,
    # does attention explain?
    "explain_pixels": 200,
    "explain_seed": 0,
    # compare
    "compare_choice": {},  # (scene spec, split protocol, split seed, model) -> the checkpoint picked by hand
    "compare_seeds": "0,1,2",
    "compare_preset": "quick",  # the comparison's own preset: the Train page's settings never leak into it
    "cm_normalise": False,
    "show_maps": False,
}


def init_state() -> None:
    """Put every missing default into the session (copied, so lists are never shared)."""
    for name, value in DEFAULTS.items():
        if name not in st.session_state:
            st.session_state[name] = copy.deepcopy(value)


def owner_id() -> str:
    """This browser session's own id (random, kept in its session state): the owner of the runs it trains
    or uploads (see ui.owners)."""
    if "_owner_id" not in st.session_state:
        st.session_state["_owner_id"] = secrets.token_hex(8)
    return st.session_state["_owner_id"]


def wkey(name: str) -> str:
    """The widget key shadowing `name`, set from the persistent value (call before drawing the widget)."""
    key = f"w_{name}"
    st.session_state[key] = st.session_state[name]
    return key


def store(name: str) -> None:
    """Widget callback: copy the widget's value into the persistent key."""
    st.session_state[name] = st.session_state[f"w_{name}"]


def bound(widget: Callable[..., Any], label: str, name: str, **kwargs: Any) -> Any:
    """Draw `widget` bound to the persistent setting `name`; returns its value."""
    on_change = kwargs.pop("on_change", None)

    def changed() -> None:
        store(name)
        if on_change is not None:
            on_change()

    return widget(label, key=wkey(name), on_change=changed, **kwargs)


def set_value(name: str, value: Any) -> None:
    """Change a persistent setting and the widget that shows it (use in callbacks)."""
    st.session_state[name] = value
    st.session_state[f"w_{name}"] = value


def scene_key(spec: tuple) -> tuple:
    """Which scene a spec names, for per-scene state: a file scene by its paths, whatever its mtimes, class
    names or wavelengths (reloading it with new names keeps the pixel and pins)."""
    return tuple(spec[:3]) if spec[0] == "file" else tuple(spec)


def switch_scene(spec: tuple) -> None:
    """Make `spec` the loaded scene: the pixel and pins of the scene before are kept under its key, and the
    new scene gets back its own (none on a first visit: the page picks a default pixel)."""
    ss = st.session_state
    if scene_key(spec) != scene_key(ss.scene_spec):
        views = {**ss.scene_views, scene_key(ss.scene_spec): (ss.pixel, list(ss.pinned))}
        ss.pixel, pinned = views.pop(scene_key(spec), (None, []))
        ss.pinned = list(pinned)
        ss.scene_views = views
    ss.scene_spec = spec
