"""The checkpoint sidecar's schema: every field's type, range and size, checked before anything is built.

`sidecar_problem(side)` returns None for a usable sidecar, else one line naming the first bad
field (e.g. ``split.train[3]: must be an integer, got str``). JSON Schema (the `jsonschema`
library) checks each field; the cross-field checks (lengths that must agree, pixel indices
inside the image) follow.
"""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ssan.data.scene import MAX_BANDS, MAX_CLASSES, MAX_NAME_CHARS, MAX_SCENE_NAME_CHARS, MAX_SIDE
from ssan.models import MODEL_NAMES
from ssan.models.presets import UPPER_BOUNDS

# The limits of what `save_checkpoint` writes: a Scene and a Preset are refused beyond them up front.
MAX_PIXELS = 50_000_000  # training or validation pixels listed in the split
MAX_HISTORY = UPPER_BOUNDS["iterations"]  # training steps recorded, one per iteration
MAX_TEXT = MAX_NAME_CHARS  # characters of a free-text field

_INT = {"type": "integer"}
_NAT = {"type": "integer", "minimum": 0}
_NUM = {"type": "number"}
_TEXT = {"type": "string", "maxLength": MAX_TEXT}
_SHA = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_NUMBERS = {"type": "array", "items": _NUM, "maxItems": MAX_BANDS}
_PIXELS = {"type": "array", "items": {"type": "integer", "minimum": 0}, "maxItems": MAX_PIXELS}


def _obj(
    required: dict[str, Any], optional: dict[str, Any] | None = None, nullable: bool = False
) -> dict:
    props = {**required, **(optional or {})}
    return {
        "type": ["object", "null"] if nullable else "object",
        "required": list(required),
        "properties": props,
    }


SCHEMA: dict[str, Any] = _obj(
    {
        "format": {"const": "ssan-checkpoint"},
        "format_version": {"type": "integer", "minimum": 1},
        "model": {"enum": list(MODEL_NAMES)},
        "preset": _obj({"name": {"type": "string", "minLength": 1, "maxLength": 200}}),
        "scene": _obj(
            {
                "name": {"type": "string", "maxLength": MAX_SCENE_NAME_CHARS},
                "shape": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1, "maximum": MAX_SIDE},
                    "minItems": 2,
                    "maxItems": 2,
                },
                "n_bands": {"type": "integer", "minimum": 3, "maximum": MAX_BANDS},
                "class_names": {
                    "type": "array",
                    "items": _TEXT,
                    "minItems": 2,
                    "maxItems": MAX_CLASSES,
                },
                "class_colors": {"type": "array", "items": _TEXT, "maxItems": MAX_CLASSES},
                "original_ids": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 1},
                    "maxItems": MAX_CLASSES,
                },
                "wavelengths": _NUMBERS,
            },
            {"sha256": {**_SHA, "type": ["string", "null"]}},
        ),
        "preprocessing": _obj(
            {
                "band_min": _NUMBERS,
                "band_max": _NUMBERS,
                "pca_mean": _NUMBERS,
                "pca_components": {
                    "type": "array",
                    "items": _NUMBERS,
                    "minItems": 1,
                    "maxItems": 1000,
                },
                "pca_scale": _NUMBERS,
                "component_min": _NUMBERS,
                "component_max": _NUMBERS,
                "fitted_on": _TEXT,
            }
        ),
        "split": _obj(
            {"protocol": _TEXT, "seed": _NAT, "train": _PIXELS, "val": _PIXELS},
            {
                "description": _TEXT,
                "patch_size": _NAT,
                "leakage": _NUM,
                "sizes": _obj({"train": _NAT, "val": _NAT, "test": _NAT}),
                "warnings": {"type": "array", "items": _TEXT, "maxItems": 2 * MAX_CLASSES},
            },
        ),
        "seed": _NAT,
        "weights_sha256": _SHA,
    },
    {
        "classical_params": {"type": ["object", "null"]},
        "metrics": _obj(
            {"oa": _NUM, "aa": _NUM, "kappa": _NUM},
            {
                "n_pixels": _NAT,
                "per_class": {  # null: a class with no test pixel
                    "type": "array",
                    "items": {"type": ["number", "null"]},
                    "maxItems": MAX_CLASSES,
                },
                "confusion": {
                    "type": "array",
                    "maxItems": MAX_CLASSES,
                    "items": {"type": "array", "items": _NAT, "maxItems": MAX_CLASSES},
                },
            },
            nullable=True,
        ),
        "history": {
            "type": "array",
            "maxItems": MAX_HISTORY,
            "items": _obj(
                {"iteration": _NAT, "loss": _NUM}, {"val_accuracy": {"type": ["number", "null"]}}
            ),
        },
        "best_iteration": {"type": ["integer", "null"], "minimum": 0},
        "best_val_accuracy": {"type": ["number", "null"]},
        "train_seconds": {"type": "number", "minimum": 0},
        "device": _TEXT,
        "cancelled": {"type": "boolean"},
        "created": _TEXT,
        "versions": {"type": "object", "additionalProperties": _TEXT},
    },
)

_VALIDATOR = Draft202012Validator(SCHEMA)


def sidecar_problem(side: Any) -> str | None:
    """None when the sidecar can be used, else '<field>: <what is wrong>' for the first bad field."""
    error = next(
        iter(sorted(_VALIDATOR.iter_errors(side), key=lambda e: list(e.absolute_path))), None
    )
    if error is not None:
        return f"{field_name(error.absolute_path) or 'the sidecar'}: {_explain(error)}"
    return _cross_field_problem(side)


def field_name(path) -> str:
    """A JSON path as 'split.train[3]'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _explain(error: ValidationError) -> str:
    """What is wrong, without echoing a (possibly huge) value."""
    kind, want, value = error.validator, error.validator_value, error.instance
    got = (
        type(value).__name__
        if not isinstance(value, (int, float)) or isinstance(value, bool)
        else repr(value)
    )
    if kind == "type":
        names = {
            "integer": "an integer",
            "number": "a number",
            "string": "a string",
            "array": "a list",
            "object": "an object",
            "boolean": "true or false",
            "null": "null",
        }
        wanted = " or ".join(names.get(t, t) for t in ([want] if isinstance(want, str) else want))
        return f"must be {wanted}, got {type(value).__name__}"
    if kind == "required":
        return f"the field {error.message.split()[0]} is missing"
    if kind in ("minimum", "maximum"):
        return f"must be {'at least' if kind == 'minimum' else 'at most'} {want}, got {got}"
    if kind in ("minItems", "maxItems"):
        return f"must hold {'at least' if kind == 'minItems' else 'at most'} {want} items, holds {len(value)}"
    if kind in ("minLength", "maxLength"):
        return f"must be {'at least' if kind == 'minLength' else 'at most'} {want} characters long"
    if kind == "enum":
        return f"must be one of {want}, got {str(value)[:50]!r}"
    if kind == "const":
        return f"must be {want!r}"
    if kind == "pattern":
        return "must be 64 lowercase hex digits (a sha256)"
    return f"is not valid ({kind})"


def _cross_field_problem(side: dict) -> str | None:
    scene, prep, split = side["scene"], side["preprocessing"], side["split"]
    n_classes, n_bands = len(scene["class_names"]), scene["n_bands"]
    for key in ("class_colors", "original_ids"):
        if len(scene[key]) != n_classes:
            return f"scene.{key}: holds {len(scene[key])} entries for {n_classes} classes"
    if len(scene["wavelengths"]) != n_bands:
        return f"scene.wavelengths: holds {len(scene['wavelengths'])} values for {n_bands} bands"
    for key in ("band_min", "band_max", "pca_mean"):
        if len(prep[key]) != n_bands:
            return f"preprocessing.{key}: holds {len(prep[key])} values for {n_bands} bands"
    k = len(prep["pca_components"])
    if any(len(row) != n_bands for row in prep["pca_components"]):
        return f"preprocessing.pca_components: every row must hold {n_bands} values (one per band)"
    for key in ("pca_scale", "component_min", "component_max"):
        if len(prep[key]) != k:
            return f"preprocessing.{key}: holds {len(prep[key])} values for {k} PCA components"
    n_pixels = scene["shape"][0] * scene["shape"][1]
    for key in ("train", "val"):
        if split[key] and max(split[key]) >= n_pixels:
            return f"split.{key}: pixel index {max(split[key])} lies outside the {n_pixels:,}-pixel image"
    return None
