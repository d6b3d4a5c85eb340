"""The split drawn on the image: every labelled pixel has one role, the guard band is visible."""

from __future__ import annotations

import numpy as np

from ssan.data.splits import SPLIT_ROLE_COLOURS, SPLIT_ROLES, make_split, split_roles
from tests.helpers import toy_scene
from ui.figures import split_map_figure


def test_roles_cover_the_labelled_pixels_and_the_guard_band_shows():
    scene = toy_scene(shape=(60, 50), n_bands=6, n_classes=4)
    for protocol, guard in (("per-class:10", False), ("disjoint:5", True)):
        split = make_split(scene, protocol, seed=0, patch_size=7)
        roles = split_roles(split)
        assert ((roles > 0) == (split.label_map > 0)).all(), (
            "every labelled pixel has a role, no other pixel"
        )
        assert [
            (roles.ravel()[s] == r).all()
            for r, s in ((1, split.train), (2, split.val), (3, split.test))
        ] == [True] * 3
        assert bool((roles == 4).any()) == guard
        fig = split_map_figure(
            np.zeros((60, 50, 3), np.uint8),
            roles,
            SPLIT_ROLES,
            SPLIT_ROLE_COLOURS,
            counts=[int((roles == r).sum()) for r in range(1, 5)],
        )
        assert fig.data[0].type == "image" and fig.data[1].name == f"train ({split.train.size:,})"
