"""The one entry point for getting a scene: the demo, a Pavia scene, or the user's .mat file.

`load_scene("paviau")` downloads (or finds) the canonical files and checks them against the
published shape and per-class counts, so a wrong or damaged copy is refused with its reason.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssan.data import pavia
from ssan.data.download import fetch_scene_files, is_cached, local_file_note
from ssan.data.pavia import PaviaScene
from ssan.data.readers import CUBE_FORMATS, is_scene_file, load_file_scene
from ssan.data.readers.matfile import load_mat_scene
from ssan.data.scene import Scene, SceneError

SCENE_CHOICES = ("demo", "paviau", "paviac")


@dataclass(frozen=True)
class SceneEntry:
    """One downloadable scene as `python -m ssan data list` shows it; `download_bytes` counts missing files only."""

    name: str
    title: str
    shape: tuple[int, int]
    bands: int
    classes: int
    download_bytes: int
    cached: bool


def load_scene(spec: str | Path, gt: str | Path | None = None, **kwargs: Any) -> Scene:
    """A scene from "demo" (kwargs: seed), "paviau"/"paviac" (kwargs: progressbar) or a cube file's path.

    For a path, `gt` is the label file (optional for a .mat that holds both) and kwargs go to
    `readers.load_file_scene` (cube_var, gt_var, class_names, wavelengths, name, nan_policy, and
    the .mat reader's own options).
    """
    key = str(spec).strip().lower()
    if key in pavia.PAVIA_SCENES or key == "demo":
        if gt is not None:
            raise SceneError(
                f"gt= applies to a .mat path, not to the built-in scene '{key}'; leave it out."
            )
        if key == "demo":
            from ssan.data.demo import make_demo_scene

            return make_demo_scene(**kwargs)
        return load_pavia(key, **kwargs)
    path = Path(spec).expanduser()
    if path.exists() or is_scene_file(path):
        return load_file_scene(path, gt, **kwargs)
    raise SceneError(
        f"unknown scene '{spec}': expected one of {', '.join(SCENE_CHOICES)} or the path of a cube file "
        f"({CUBE_FORMATS}), and there is no file at {path.resolve()}. Check the spelling or the path."
    )


def load_pavia(key: str, progressbar: Any = False) -> Scene:
    """A Pavia scene from the data folder (downloaded if missing), checked against the published facts."""
    if key not in pavia.PAVIA_SCENES:
        raise SceneError(
            f"unknown Pavia scene '{key}'; expected one of {', '.join(pavia.PAVIA_SCENES)}."
        )
    facts = pavia.PAVIA_SCENES[key]
    cube_path, gt_path = fetch_scene_files(key, progressbar)
    advice = (
        f"This is not the canonical {facts.title} data: delete {cube_path.name} and {gt_path.name} from "
        f"{cube_path.parent} to download them again, or replace them with the files from "
        f"{facts.cube.url} and {facts.gt.url}."
    )
    try:
        scene = load_mat_scene(
            cube_path,
            gt_path,
            cube_var=facts.cube_var,
            gt_var=facts.gt_var,
            name=key,
            class_names=facts.class_names,
            class_colors=facts.class_colors,
        )
    except SceneError as err:
        raise SceneError(f"{err} {advice}") from err
    _check_against_facts(scene, facts, advice)
    notes = [n for n in (local_file_note(f.name) for f in facts.files) if n]
    return dataclasses.replace(scene, notes=scene.notes + tuple(notes)) if notes else scene


def _check_against_facts(scene: Scene, facts: PaviaScene, advice: str) -> None:
    """Refuse a scene whose shape or per-class counts differ from the published ones, saying which."""
    shape = scene.cube.shape
    if shape != facts.shape:
        raise SceneError(
            f"{scene.source}: the cube is {'x'.join(map(str, shape))} but {facts.title} is "
            f"{'x'.join(map(str, facts.shape))} (rows x cols x bands). {advice}"
        )
    counts = dict(zip(scene.original_ids, scene.class_counts().tolist()))
    wrong = [
        f"class {i} {name}: {counts.get(i, 0):,} pixels, published {published:,}"
        for i, (name, published) in enumerate(zip(facts.class_names, facts.class_counts), start=1)
        if counts.get(i, 0) != published
    ]
    if wrong:
        raise SceneError(
            f"{scene.source}: the label map's class counts differ from the published {facts.title} counts "
            f"({'; '.join(wrong)}). {advice}"
        )


def list_scenes() -> list[SceneEntry]:
    """The downloadable scenes with their size and whether their files are already here.

    The demo scene is generated, needs no download and is not listed.
    """
    entries = []
    for facts in pavia.PAVIA_SCENES.values():
        missing = [f for f in facts.files if not is_cached(f.name)]
        entries.append(
            SceneEntry(
                name=facts.key,
                title=facts.title,
                shape=facts.shape[:2],
                bands=facts.shape[2],
                classes=facts.n_classes,
                download_bytes=sum(f.size for f in missing),
                cached=not missing,
            )
        )
    return entries
