"""The Scene page: choose a hyperspectral scene (demo, Pavia, or the user's files), look at it, click pixels
to see their spectra, and pick the split every other page uses."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from ssan.data.catalog import list_scenes
from ssan.data.download import data_dir
from ssan.data.readers import CUBE_FORMATS, LABEL_FORMATS
from ssan.data.scene import Scene
from ui import loaders, owners, page
from ui.controls import split_controls
from ui.figures import class_counts_figure, pin_color, spectrum_figure
from ui.page import Context
from ui.progress import StreamlitProgress
from ui.state import bound, switch_scene
from ui.viewer import class_name, clickable_scene, legend

PIXEL_COLOUR = "#e6a800"
# On the projector the spectrum sits under the heading and the pin buttons: most of it above the fold at 1280×720.
PRESENT_SPECTRUM_HEIGHT = 300
RGB = ("Red", "Green", "Blue")
COMPOSITES = {"True colour": (640.0, 550.0, 470.0), "Colour infrared": (800.0, 650.0, 550.0)}
SCENE_CHOICES = {
    "demo": "Demo town (synthetic, instant)",
    "paviau": "Pavia University",
    "paviac": "Pavia Centre",
    "file": "Your own files",
}

ss = st.session_state


def intro() -> None:
    """Title and what the app is."""
    st.title("Attention in hyperspectral images")
    page.intro(
        f"An interactive look at **{page.METHOD}**, the spectral-spatial joint attention network: a recurrent "
        "branch weighs each **band** of a pixel's spectrum, a convolutional branch weighs each **neighbour** in the "
        "27×27 patch around it. Pick a scene and a split here, train or load a model, then see where it looked."
    )


def set_composite(bands: tuple[float, float, float], lo: float, hi: float) -> None:
    """Button callback: show a standard composite (clipped to the scene's wavelength range lo..hi nm)."""
    ss.rgb_nm = tuple(float(np.clip(b, lo, hi)) for b in bands)


def store_bands() -> None:
    """Slider callback: keep the chosen red, green and blue wavelengths."""
    ss.rgb_nm = tuple(float(ss[f"w_nm_{channel}"]) for channel in RGB)


def try_load(spec: tuple, progressbar=False, shown: Callable[[str], str] = str) -> bool:
    """Load the scene `spec` (downloading with `progressbar` when needed); show why on failure (through `shown`)."""
    try:
        loaders.scene_for(spec, progressbar)
    except ValueError as exc:
        st.error(shown(str(exc)))
        return False
    switch_scene(spec)
    return True


def choose_pavia(key: str) -> None:
    """Load a Pavia scene, offering the download (with a progress bar) when its files are missing."""
    entry = next(e for e in list_scenes() if e.name == key)
    if ss.scene_spec == (key,):
        return
    if entry.cached:
        try_load((key,))
        return
    st.info(
        f"{entry.title} ({entry.shape[0]}×{entry.shape[1]} px, {entry.bands} bands, {entry.classes} classes) "
        f"needs a one-time download of {entry.download_bytes / 1e6:.0f} MB into `{data_dir()}` "
        "(set SSAN_DATA_DIR to use another folder)."
    )
    if st.button(f"Download {entry.title}", type="primary", key="download"):
        slot = st.empty()
        with slot:
            bar = StreamlitProgress(f"Downloading {entry.title}")
        if try_load((key,), bar):
            st.rerun()
        slot.empty()  # the download failed; the error message says why and where to put the files


def load_uploads(cube: list, gt: list, names: str, wavelengths: str) -> None:
    """Store the uploaded cube (and label) files and load them as the scene; say what is wrong otherwise
    (a refused upload is deleted at once; older uploads are pruned)."""
    from ssan.data.uploads import discard_upload, shown_names, store_scene_upload

    cube_path = gt_path = None
    try:
        cube_path = store_scene_upload([(f.name, f.getvalue()) for f in cube], "cube")
        gt_path = store_scene_upload([(f.name, f.getvalue()) for f in gt], "labels") if gt else None
    except ValueError as exc:
        st.error(shown_names(str(exc)))
        loaded = False
    else:
        if gt_path is None and cube_path.suffix.lower() != ".mat":
            st.error(
                f"{cube_path.name}: this cube holds no labels. Upload its ground truth too "
                f"({LABEL_FORMATS})."
            )
            loaded = False
        else:
            spec = loaders.file_spec(cube_path, gt_path, names, wavelengths)
            loaded = try_load(spec, shown=shown_names)
    if not loaded:
        for path in (cube_path, gt_path):
            if path is not None:
                discard_upload(path, owners.in_use())
    page.prune_after_upload()
    if loaded:
        st.rerun()


def choose_file() -> None:
    """Load the user's scene files, uploaded or named by path, with optional class names and wavelengths."""
    st.markdown(
        f"A cube (rows × cols × bands): {CUBE_FORMATS}; and a ground-truth map (rows × cols, "
        f"0 = unlabelled): {LABEL_FORMATS}. A .mat file may hold both."
    )
    n1, n2 = st.columns(2)
    with n1:
        names = bound(
            st.text_input,
            "Class names (optional)",
            "scene_names",
            placeholder="Asphalt, Meadows, Gravel, …",
            help="In class id order, comma-separated or one per line (typed text, never a file on the server). "
            "Empty: the names in the file (ENVI header, a names variable), else Class 1…C.",
        )
    with n2:
        wavelengths = bound(
            st.text_input,
            "Wavelengths in nm (optional)",
            "scene_wavelengths",
            placeholder="400-2500",
            help="START-END spread evenly, or a comma-separated list, one value per band (typed text, "
            "never a file on the server). Empty: from the file, else a guess by band count (marked as a guess).",
        )
    up, typed = st.tabs(["Upload files", "Path on this machine"])
    with up:
        st.caption(
            f"An ENVI image is two files: select its .hdr and its data file together. Up to "
            f"{st.get_option('server.maxUploadSize')} MB a file; give a larger scene by its path."
        )
        cube = st.file_uploader(
            "Cube: .mat (may also hold the ground truth), GeoTIFF, or ENVI (.hdr + data file)",
            accept_multiple_files=True,
            key="upload_cube",
        )
        gt = st.file_uploader(
            "Ground truth: .mat, GeoTIFF, PNG mask, or ENVI classification (.hdr + data file)",
            accept_multiple_files=True,
            key="upload_gt",
        )
        if st.button("Load uploaded files", disabled=not cube, key="load_upload"):
            load_uploads(cube, gt, names, wavelengths)
    with typed:
        cube_path = bound(
            st.text_input,
            "Path of the cube (.mat, ENVI .hdr or GeoTIFF)",
            "scene_path",
            placeholder="/data/PaviaU.mat",
        )
        gt_path = bound(
            st.text_input,
            "Path of the ground truth (.mat, ENVI .hdr, .tif or .png; optional for a .mat "
            "that holds both)",
            "gt_path",
            placeholder="/data/PaviaU_gt.mat",
        )
        if st.button("Load from path", disabled=not cube_path.strip(), key="load_path"):
            if try_load(
                loaders.file_spec(cube_path.strip(), gt_path.strip() or None, names, wavelengths)
            ):
                st.rerun()


def scene_chooser() -> None:
    """Demo, Pavia or own files; on the projector folded away, so the image starts near the top of a 1280×720
    screen."""
    chooser = (
        st.expander(f"Scene: {loaders.spec_label(ss.scene_spec)}", key="scene_chooser")
        if page.presenting()
        else st.container(border=True)
    )
    with chooser:
        choice = bound(
            st.radio,
            "Scene",
            "scene_choice",
            options=list(SCENE_CHOICES),
            format_func=SCENE_CHOICES.get,
            horizontal=True,
        )
        if choice == "demo" and ss.scene_spec != ("demo",):
            try_load(("demo",))
        elif choice in ("paviau", "paviac"):
            choose_pavia(choice)
        elif choice == "file":
            choose_file()


# The library's notes name the CLI's flags; in the app, the fields that do the same.
CLI_TO_APP = {
    "with --wavelengths": "in the 'Wavelengths in nm' field under 'Your own files' in the scene chooser, then load the file again",
    "with --class-names": "in the 'Class names' field under 'Your own files' in the scene chooser, then load the file again",
}


def in_app_words(note: str) -> str:
    """A scene note as the app's user acts on it: a CLI flag replaced by the app's field for it."""
    for cli, app in CLI_TO_APP.items():
        note = note.replace(cli, app)
    return note


def scene_description(ctx: Context) -> None:
    """What the scene is: size, bands, classes, source, and its notes."""
    scene = ctx.scene
    wl = scene.wavelengths
    approx = "≈ " if scene.wavelengths_estimated else ""
    showing = (
        f"**Showing: {loaders.spec_label(ctx.spec)}** · {scene.shape[0]}×{scene.shape[1]} pixels · "
        f"{scene.n_bands} bands "
        f"({approx}{wl[0]:.0f}–{wl[-1]:.0f} nm{', a guess: see the notes' if scene.wavelengths_estimated else ''}) · "
        f"{scene.n_classes} classes · {scene.class_counts().sum():,} labelled "
        f"pixels · {scene.source}"
    )
    # On the projector the scene's description and notes share one folded row, so the image starts higher.
    with (
        st.expander(
            f"About the scene: {scene.shape[0]}×{scene.shape[1]} px, {scene.n_bands} bands, "
            f"{scene.n_classes} classes"
        )
        if page.presenting()
        else st.container()
    ):
        st.container(key="scene_facts").markdown(showing)
        if scene.notes:
            notes = "\n".join(f"- {in_app_words(note)}" for note in scene.notes)
            if page.presenting():
                st.markdown(notes)  # already folded (expanders do not nest)
            else:
                with st.expander("Notes on this scene", key="scene_notes"):
                    st.markdown(notes)


def image_and_spectrum(ctx: Context) -> None:
    """The clickable image with its display settings, and the clicked (and pinned) pixels' spectra."""
    scene = ctx.scene
    wl = scene.wavelengths
    left, right = st.columns([1.15, 1], gap="large")
    with left:
        display_bar(scene)
        if not page.presenting():
            st.caption(
                "Click a pixel to see its spectrum. Scroll or drag to zoom; double-click to zoom out."
            )
        pixel = clickable_scene(ctx, key="scene_image")
        legend(scene)
        if scene.planted is not None:
            st.container(key="demo_objects").caption(
                "The small unlabelled objects on the roads are parked cars, each with its own paint, and the "
                "thin unlabelled seams are boundary pixels that mix two materials. Neither counts in any score, "
                "but every model still classifies them on its map."
            )

    with right:
        r, c = pixel
        label = int(scene.labels[r, c])
        st.subheader(f"Pixel (row {r}, col {c})")
        # Right under the heading: on the projector the buttons stay on screen beside the image.
        with st.container(horizontal=True, gap="small", vertical_alignment="center"):
            st.markdown(f"Ground truth: **{class_name(scene, label)}**")
            if st.button(
                "Pin this pixel",
                disabled=tuple(pixel) in map(tuple, ss.pinned),
                key="pin",
                icon=":material/push_pin:",
            ):
                ss.pinned = [*ss.pinned, tuple(pixel)]
                st.rerun()
            if st.button("Clear pinned pixels", disabled=not ss.pinned, key="unpin"):
                ss.pinned = []
                st.rerun()
        spectra = [(f"({r}, {c}) {class_name(scene, label)}", scene.cube[r, c], PIXEL_COLOUR)]
        spectra += [
            (
                f"#{i + 1} ({pr}, {pc}) {class_name(scene, int(scene.labels[pr, pc]))}",
                scene.cube[pr, pc],
                pin_color(i),
            )
            for i, (pr, pc) in enumerate(page.current_pins(scene))
        ]
        planted = scene.planted.band_mask(scene.n_bands) if scene.planted is not None else None
        page.plot(
            spectrum_figure(
                wl,
                spectra,
                planted=planted,
                wavelengths_estimated=scene.wavelengths_estimated,
                value_title="Value (as stored)",
                height=PRESENT_SPECTRUM_HEIGHT if page.presenting() else None,
            ),
            key="scene_spectrum",
        )
        if planted is not None:
            st.caption("Shaded: the bands planted in the demo scene, where two class pairs differ.")


def display_bar(scene: Scene) -> None:
    """The composites as one row of buttons, and the display settings in a popover beside them (over the
    page, so the image does not move)."""
    wl = scene.wavelengths
    lo_nm, hi_nm = float(wl.min()), float(wl.max())
    with st.container(horizontal=True, gap="small", key="display_bar"):
        for preset, bands in COMPOSITES.items():
            st.button(
                preset,
                key=f"composite_{preset}",
                on_click=set_composite,
                args=(bands, lo_nm, hi_nm),
                disabled=not (lo_nm - 20 <= min(bands) and max(bands) <= hi_nm + 20),
                help=f"Red, green, blue = {', '.join(f'{b:.0f}' for b in bands)} nm (the nearest bands).",
            )
        with st.popover("Display", key="display_options"):
            ss.rgb_nm = tuple(float(np.clip(value, lo_nm, hi_nm)) for value in ss.rgb_nm)
            for channel, value in zip(RGB, ss.rgb_nm):
                ss[f"w_nm_{channel}"] = (
                    value  # from the kept value: a widget is forgotten on other pages
                )
                st.slider(
                    f"{channel} (nm)",
                    lo_nm,
                    hi_nm,
                    step=1.0,
                    key=f"w_nm_{channel}",
                    on_change=store_bands,
                )
            bound(
                st.slider,
                "Stretch (percentiles)",
                "stretch",
                min_value=0.0,
                max_value=100.0,
                step=0.5,
            )
            bound(
                st.slider,
                "Ground-truth opacity",
                "gt_opacity",
                min_value=0.0,
                max_value=1.0,
                step=0.05,
            )


def split_section(ctx: Context) -> None:
    """The split's controls, summary, map over the image and class counts."""
    scene = ctx.scene
    st.divider()
    st.subheader("Split")
    split_controls()
    split = ctx.split
    st.markdown(split.summary())
    if split.leakage > 0.5:
        st.caption(
            "Leakage: with random pixels, most test patches overlap a training patch, which flatters "
            "spectral-spatial models. The disjoint protocol keeps a guard band between them."
        )
    for warning in split.warnings:
        st.warning(warning)
    m1, m2 = st.columns([1, 1.2], gap="large")
    with m1:
        page.plot(
            loaders.split_map(
                ctx.spec, split.protocol, split.seed, tuple(ss.rgb_nm), tuple(ss.stretch)
            ),
            key="split_map",
        )
        st.caption(
            "Where the split's pixels lie over the image (greyed). With random pixels, train and test sit side by "
            "side; the disjoint split keeps whole blocks apart with a guard band."
        )
    with m2:
        page.plot(
            class_counts_figure(
                scene.class_counts(),
                scene.class_names,
                scene.class_colors,
                split_counts=split.counts(scene.n_classes),
            ),
            key="split_counts",
        )
