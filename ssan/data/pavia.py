"""Facts about the two Pavia scenes (ROSIS, EHU GIC files), kept as data.

The downloader verifies files against these hashes and sizes; the loader checks the
shapes and the published per-class counts, so a wrong or damaged file is named, not trained on.
Hashes and sizes: the canonical EHU files (see shared/data/real/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass

EHU_PAGE = "https://www.ehu.eus/ccwintco/index.php/Hyperspectral_Remote_Sensing_Scenes"


@dataclass(frozen=True)
class RemoteFile:
    """One canonical file: its name in the data folder, where it lives, and how to verify it."""

    name: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class PaviaScene:
    """What a correct copy of a Pavia scene looks like once loaded.

    `class_counts[i]` is the published pixel count of class i + 1; `shape` is (rows, cols, bands).
    """

    key: str
    title: str
    cube: RemoteFile
    gt: RemoteFile
    cube_var: str
    gt_var: str
    shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    class_colors: tuple[str, ...]
    class_counts: tuple[int, ...]

    @property
    def files(self) -> tuple[RemoteFile, RemoteFile]:
        return self.cube, self.gt

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def download_bytes(self) -> int:
        return self.cube.size + self.gt.size


PAVIAU = PaviaScene(
    key="paviau",
    title="Pavia University",
    cube=RemoteFile(
        "PaviaU.mat",
        "https://www.ehu.eus/ccwintco/uploads/e/ee/PaviaU.mat",
        "28447fa87f7a5797845e9a189c0da85e23b1d06a4ba7361e5ff44efbf834d2fb",
        34_806_917,
    ),
    gt=RemoteFile(
        "PaviaU_gt.mat",
        "https://www.ehu.eus/ccwintco/uploads/5/50/PaviaU_gt.mat",
        "23f6a426928f9b32984adffe659e29f554f9fb6c93b5a107528d308d5087a829",
        11_005,
    ),
    cube_var="paviaU",
    gt_var="paviaU_gt",
    shape=(610, 340, 103),
    class_names=(
        "Asphalt",
        "Meadows",
        "Gravel",
        "Trees",
        "Painted metal sheets",
        "Bare Soil",
        "Bitumen",
        "Self-Blocking Bricks",
        "Shadows",
    ),
    # The palette of the EHU ground-truth image, used by most papers' maps.
    class_colors=(
        "#c0c0c0",
        "#00ff00",
        "#00ffff",
        "#008000",
        "#ff00ff",
        "#a55229",
        "#800080",
        "#ff0000",
        "#ffff00",
    ),
    class_counts=(6631, 18649, 2099, 3064, 1345, 5029, 1330, 3682, 947),
)

PAVIAC = PaviaScene(
    key="paviac",
    title="Pavia Centre",
    cube=RemoteFile(
        "Pavia.mat",
        "https://www.ehu.eus/ccwintco/uploads/e/e3/Pavia.mat",
        "b60341da323fd271cd97dd6d7a69514d385ccd7fdfc5a60c4ff5994b047f152e",
        129_624_657,
    ),
    gt=RemoteFile(
        "Pavia_gt.mat",
        "https://www.ehu.eus/ccwintco/uploads/5/53/Pavia_gt.mat",
        "7eb54ab81b404dd3ae572e6d0ec211595029e5a847bec2cfb8f9e72d07066b69",
        34_887,
    ),
    cube_var="pavia",
    gt_var="pavia_gt",
    shape=(1096, 715, 102),
    class_names=(
        "Water",
        "Trees",
        "Asphalt",
        "Self-Blocking Bricks",
        "Bitumen",
        "Tiles",
        "Shadows",
        "Meadows",
        "Bare Soil",
    ),
    # Pavia University's colour for every material the two scenes share; water blue, tiles terracotta.
    class_colors=(
        "#0000ff",
        "#008000",
        "#c0c0c0",
        "#ff0000",
        "#800080",
        "#ff8000",
        "#ffff00",
        "#00ff00",
        "#a55229",
    ),
    class_counts=(65971, 7598, 3090, 2685, 6584, 9248, 7287, 42826, 2863),
)

PAVIA_SCENES: dict[str, PaviaScene] = {s.key: s for s in (PAVIAU, PAVIAC)}
