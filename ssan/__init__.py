"""ssan: the spectral-spatial joint attention network (SSAN, Mei/Pan et al. 2019) for
hyperspectral image classification, its comparators, and read-outs of its attention.

Data flows one way: scene -> split -> preprocessing fitted on train -> model ->
predictions / attention -> metrics / figures::

    import ssan

    scene = ssan.load_scene("demo")
    split = ssan.make_split(scene, "disjoint:30", seed=0)
    model = ssan.train(scene, split, "ssan", preset="quick", seed=0)
    print(ssan.evaluate(model, scene, split))
    model.predict(scene, [(75, 40)])          # pixels as (row, col) pairs or a boolean mask

The names below are imported on first use, so `import ssan` stays cheap (no torch) for the
command line's `--help`.
"""

__version__ = "0.1.0"

# typing.TYPE_CHECKING without importing typing (it costs more than the rest of this module);
# type checkers read a module-level TYPE_CHECKING = False as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ssan.data.catalog import list_scenes, load_scene
    from ssan.data.scene import Scene
    from ssan.data.splits import Split, SplitRecord, make_split
    from ssan.evaluation.compare import compare
    from ssan.evaluation.metrics import Metrics, evaluate
    from ssan.explain.report import explain_model
    from ssan.inference.attention import PixelAttention
    from ssan.models.checkpoints import load_checkpoint as load_model
    from ssan.models.fitted import FittedModel
    from ssan.models.fitted import FittedModel as Model
    from ssan.models.presets import Preset, get_preset
    from ssan.training.trainer import train

# Public name -> (module, attribute in it).
_EXPORTS: dict[str, tuple[str, str]] = {
    "load_scene": ("ssan.data.catalog", "load_scene"),
    "list_scenes": ("ssan.data.catalog", "list_scenes"),
    "make_split": ("ssan.data.splits", "make_split"),
    "train": ("ssan.training.trainer", "train"),
    "evaluate": ("ssan.evaluation.metrics", "evaluate"),
    "load_model": ("ssan.models.checkpoints", "load_checkpoint"),
    "compare": ("ssan.evaluation.compare", "compare"),
    "explain_model": ("ssan.explain.report", "explain_model"),
    "get_preset": ("ssan.models.presets", "get_preset"),
    "Scene": ("ssan.data.scene", "Scene"),
    "Split": ("ssan.data.splits", "Split"),
    "SplitRecord": ("ssan.data.splits", "SplitRecord"),
    "FittedModel": ("ssan.models.fitted", "FittedModel"),
    "Model": ("ssan.models.fitted", "FittedModel"),
    "Metrics": ("ssan.evaluation.metrics", "Metrics"),
    "PixelAttention": ("ssan.inference.attention", "PixelAttention"),
    "Preset": ("ssan.models.presets", "Preset"),
}

__all__ = [
    "FittedModel",
    "Metrics",
    "Model",
    "PixelAttention",
    "Preset",
    "Scene",
    "Split",
    "SplitRecord",
    "__version__",
    "compare",
    "evaluate",
    "explain_model",
    "get_preset",
    "list_scenes",
    "load_model",
    "load_scene",
    "make_split",
    "train",
]


def __getattr__(name: str) -> "Any":
    """Import a public name on first use (PEP 562) and keep it, so later lookups are plain attributes."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ssan' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(__import__(module, fromlist=[attribute]), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
