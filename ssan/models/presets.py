"""Network and training settings as data: the authors' "paper" configuration and a CPU "quick" one.

A `Preset` is frozen and validated on construction, so every preset in use (built-in,
overridden, or read back from a checkpoint's JSON sidecar) is one the networks can build.
Settings are changed one way: `train(..., overrides={...})` (the CLI's `--set key=value`), which
goes through `apply_overrides`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MASK_MODES = ("multiply", "residual")
RNN_POOLINGS = ("mean", "last")
SPECTRAL_INPUTS = ("unit", "centred")
LR_SCHEDULES = ("constant", "cosine")
INITS = ("default", "normal")

_POSITIVE_INTS = (
    "rnn_hidden",
    "attention_size",
    "n_components",
    "kernel_size",
    "fc_hidden",
    "fusion_dim",
    "fusion_hidden",
    "batch_size",
    "iterations",
    "eval_every",
)
# Upper bounds far above any published setting (paper: 512, 32, 27, 4, 5, 1024, 256, 1024, 128, 10,000),
# so a typo or a hostile checkpoint cannot make one network or one batch take all the memory.
UPPER_BOUNDS = {
    "rnn_hidden": 4096,
    "attention_size": 4096,
    "patch_size": 101,
    "n_components": 64,
    "kernel_size": 15,
    "fc_hidden": 16384,
    "fusion_dim": 4096,
    "fusion_hidden": 16384,
    "batch_size": 8192,
    "iterations": 1_000_000,  # a checkpoint records each (checkpoint_schema.MAX_HISTORY)
    "eval_every": 1_000_000,
    "conv_channels": 1024,
    "early_stop_patience": 100_000,
    "band_embedding": 1024,
}


@dataclass(frozen=True)
class Preset:
    """Every setting that shapes an SSAN-family network and its training run.

    Defaults are the authors' published configuration (EtPan/SSAN, TensorFlow):
    BiGRU 512 per direction, attention 32, 27x27 patches of 4 PCA components,
    conv 5x5 32/64, FC 1024, dropout 0.4 (keep_prob 0.6), fusion 256 -> 1024,
    Adam lr 0.005, batch 128, 10,000 iterations, validation every 1,000.
    """

    name: str
    rnn_hidden: int = 512  # GRU units per direction
    attention_size: int = 32
    attention_bias: bool = False  # the slide's b' (authors' code has none)
    patch_size: int = 27
    n_components: int = 4  # PCA components of the spatial input
    conv_channels: tuple[int, int] = (32, 64)
    kernel_size: int = 5
    fc_hidden: int = 1024  # spatial branch FC
    dropout: float = 0.4  # keep_prob 0.6
    fusion_dim: int = 256  # shared FC C->256
    fusion_hidden: int = 1024
    mask_mode: str = "multiply"  # or "residual": x + x*m
    branch_loss: float = (
        0.0  # SSAN: weight of each branch's own cross-entropy beside the fused one (0 = authors)
    )
    rnn_pooling: str = "mean"  # RNN comparator without attention: "mean" | "last"
    spectral_input: str = "unit"  # GRU input: min-max [0, 1] (authors) or "centred" to [-1, 1]
    band_embedding: int = (
        0  # 0: the bare scalar per GRU step (authors); d: each band's own d-dim embedding
    )
    relative_input: bool = (
        False  # each band's embedding also reads its value over the pixel's mean brightness
    )
    token_skip: bool = False  # attention reads each band's embedding beside its BiGRU state
    spectral_dropout: float = 0.0  # dropout on the attended spectral feature s
    lr_schedule: str = "constant"  # or "cosine": decay to 0 over the run
    init: str = "default"  # or "normal": the authors' N(0,1) (attention weights N(0,0.1))
    lr: float = 5e-3
    batch_size: int = 128
    iterations: int = 10_000
    eval_every: int = 1_000
    grad_clip: float | None = None
    early_stop_patience: int | None = None  # evaluations without val improvement, None = off

    def __post_init__(self) -> None:
        if isinstance(self.conv_channels, list):
            object.__setattr__(self, "conv_channels", tuple(self.conv_channels))
        _validate(self)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists) that `from_dict` turns back into this preset."""
        d = dataclasses.asdict(self)
        d["conv_channels"] = list(self.conv_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Preset:
        """Rebuild a preset from `to_dict` output (e.g. a checkpoint sidecar), validating it."""
        unknown = sorted(set(d) - set(field_names()))
        if unknown:
            raise ValueError(
                f"Unknown preset setting(s) {unknown}; valid names are {list(field_names())}."
            )
        if "name" not in d:
            raise ValueError("A preset dict needs a 'name'.")
        return cls(**d)


def field_names() -> tuple[str, ...]:
    """The names `Preset` accepts, in declaration order."""
    return tuple(f.name for f in dataclasses.fields(Preset))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _validate(p: Preset) -> None:
    """Refuse settings no network can be built or trained with; the message names the value."""
    if not isinstance(p.name, str) or not p.name:
        raise ValueError(f"Preset name must be a non-empty string; got {p.name!r}.")
    for key in _POSITIVE_INTS:
        value = getattr(p, key)
        if not _is_int(value) or value < 1:
            raise ValueError(f"Preset {p.name!r}: {key} must be a positive integer; got {value!r}.")
    if not _is_int(p.patch_size) or p.patch_size < 5 or p.patch_size % 2 == 0:
        raise ValueError(
            f"Preset {p.name!r}: patch_size must be an odd integer >= 5 (a centred patch); got {p.patch_size!r}."
        )
    if p.kernel_size % 2 == 0:
        raise ValueError(
            f"Preset {p.name!r}: kernel_size must be odd so 'same' padding keeps the size; got {p.kernel_size}."
        )
    channels = p.conv_channels
    if (
        not isinstance(channels, tuple)
        or len(channels) != 2
        or not all(_is_int(c) and c >= 1 for c in channels)
    ):
        raise ValueError(
            f"Preset {p.name!r}: conv_channels must be two positive integers; got {p.conv_channels!r}."
        )
    for key in ("attention_bias", "token_skip", "relative_input"):
        if not isinstance(getattr(p, key), bool):
            raise ValueError(
                f"Preset {p.name!r}: {key} must be True or False; got {getattr(p, key)!r}."
            )
    for key in ("token_skip", "relative_input"):
        if getattr(p, key) and not p.band_embedding:
            raise ValueError(
                f"Preset {p.name!r}: {key} works through the band embeddings; set band_embedding > 0 too."
            )
    for key in ("dropout", "spectral_dropout"):
        if not _is_number(getattr(p, key)) or not 0.0 <= getattr(p, key) < 1.0:
            raise ValueError(
                f"Preset {p.name!r}: {key} is a drop probability in [0, 1); got {getattr(p, key)!r}."
            )
    if not _is_int(p.band_embedding) or p.band_embedding < 0:
        raise ValueError(
            f"Preset {p.name!r}: band_embedding must be 0 (off) or a positive integer; "
            f"got {p.band_embedding!r}."
        )
    if not _is_number(p.branch_loss) or not 0.0 <= p.branch_loss < float("inf"):
        raise ValueError(
            f"Preset {p.name!r}: branch_loss must be a number >= 0 (0 = off); got {p.branch_loss!r}."
        )
    if not _is_number(p.lr) or not 0 < p.lr < math.inf:
        raise ValueError(f"Preset {p.name!r}: lr must be a positive, finite number; got {p.lr!r}.")
    for key, choices in (
        ("mask_mode", MASK_MODES),
        ("rnn_pooling", RNN_POOLINGS),
        ("spectral_input", SPECTRAL_INPUTS),
        ("init", INITS),
        ("lr_schedule", LR_SCHEDULES),
    ):
        if getattr(p, key) not in choices:
            raise ValueError(
                f"Preset {p.name!r}: {key} must be one of {choices}; got {getattr(p, key)!r}."
            )
    if p.grad_clip is not None and (not _is_number(p.grad_clip) or not 0 < p.grad_clip < math.inf):
        raise ValueError(
            f"Preset {p.name!r}: grad_clip must be None (off) or a positive number; got {p.grad_clip!r}."
        )
    if p.early_stop_patience is not None and (
        not _is_int(p.early_stop_patience) or p.early_stop_patience < 1
    ):
        raise ValueError(
            f"Preset {p.name!r}: early_stop_patience must be None (off) or a positive integer; "
            f"got {p.early_stop_patience!r}."
        )
    for key, limit in UPPER_BOUNDS.items():
        value = getattr(p, key)
        if value is not None and max(value if isinstance(value, tuple) else (value,)) > limit:
            raise ValueError(
                f"Preset {p.name!r}: {key} must be at most {limit:,} (it sizes memory); got {value!r}."
            )


PRESETS: dict[str, Preset] = {
    # The authors' configuration, number for number (EtPan/SSAN ssan.py); meant for a GPU.
    "paper": Preset(name="paper"),
    # Chosen by measurement on 2 CPU cores (docs/method.md): GRU 64 / FC 256 / batch 64
    # takes about 60-75 ms per SSAN step, so 800 steps and 16 validations take about a minute.
    # Centred GRU input ([-1, 1]) and each band's own 16-d embedding let the small BiGRU learn
    # fine spectral differences and weigh bands; 800 steps on a cosine-decayed rate let it learn
    # the demo's hidden ones; each branch's own loss beside the fused one (weight 0.5) keeps both
    # branches learning (docs/branch-study.md); everything else is the paper's.
    "quick": Preset(
        name="quick",
        rnn_hidden=64,
        fc_hidden=256,
        fusion_hidden=256,
        batch_size=64,
        iterations=800,
        eval_every=50,
        lr_schedule="cosine",
        spectral_input="centred",
        band_embedding=16,
        branch_loss=0.5,
    ),
}


def get_preset(name: str) -> Preset:
    """The built-in preset `name` ("quick" or "paper"); change settings with `train(..., overrides=)`."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; valid presets are {sorted(PRESETS)}.")
    return PRESETS[name]


def apply_overrides(preset: Preset, overrides: Mapping[str, Any] | None) -> Preset:
    """A copy of `preset` with some settings changed, validated; unknown names or bad values raise ValueError.

    The one place settings are overridden (`resolve_preset`, hence `train(overrides=)` and `--set`).
    """
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(field_names()))
    if unknown:
        raise ValueError(
            f"Unknown preset setting(s) {unknown}; valid names are {list(field_names())}."
        )
    return dataclasses.replace(preset, **overrides) if overrides else preset
