"""What-if edits on the demo town: the planted bands carry the roofs' difference, an identity edit nothing."""

from __future__ import annotations

import numpy as np
import pytest

from ssan.data.demo import BLUE_GREEN_BANDS, GREY_PAINT, TEAL_PAINT
from ssan.inference.whatif import BandEdit, Occlusion, edit_spectrum, occlude_patch, what_if

SHIPPED = "assets/demo-ssan"


@pytest.fixture(scope="session")
def shipped(shipped, demo):
    """The shipped checkpoint and the demo scene, from the session's (conftest): read-only, so shared
    by every worker's tests without an xdist group."""
    return shipped, demo


def _first_predicted(fitted, scene, class_id: int) -> tuple[int, int]:
    """The first pixel of `class_id` (row-major) that the model predicts as that class."""
    rows, cols = np.nonzero(scene.labels == class_id)
    sampler = fitted.sampler(scene)
    flat = rows * scene.shape[1] + cols
    predicted = fitted.predict_at(sampler, flat[:200])
    k = int(np.argmax(predicted == class_id))
    return int(rows[k]), int(cols[k])


def test_teal_roof_with_grey_planted_bands_moves_toward_the_grey_roof(shipped):
    fitted, scene = shipped
    teal = _first_predicted(fitted, scene, TEAL_PAINT)
    grey = _first_predicted(fitted, scene, GREY_PAINT)
    lo, hi = BLUE_GREEN_BANDS
    result = what_if(fitted, scene, teal, band_edit=BandEdit(lo, hi, "another pixel", source=grey))
    assert result.predicted == TEAL_PAINT
    assert result.probability_change(GREY_PAINT) > 0.2
    assert result.probability_change(TEAL_PAINT) < -0.2
    # the same edit outside the planted bands moves it far less
    elsewhere = what_if(
        fitted, scene, teal, band_edit=BandEdit(70, 70 + hi - lo, "another pixel", source=grey)
    )
    assert abs(elsewhere.probability_change(GREY_PAINT)) < result.probability_change(GREY_PAINT) / 2
    assert "P(" in result.describe()


def test_identity_edits_change_nothing(shipped):
    fitted, scene = shipped
    pixel = (75, 40)
    plain = what_if(fitted, scene, pixel)
    scaled = what_if(
        fitted, scene, pixel, band_edit=BandEdit(0, scene.n_bands, "scale", factor=1.0)
    )
    same_patch = what_if(fitted, scene, pixel, spatial_pixel=pixel)
    for result in (plain, scaled, same_patch):
        for a, b in zip(result.original.stages, result.edited.stages):
            np.testing.assert_array_equal(a.value, b.value)
        assert result.probability_change() == 0.0


def test_occlusion_and_branch_swap_reach_only_their_branch(shipped):
    fitted, scene = shipped
    pixel = (75, 40)
    occluded = what_if(fitted, scene, pixel, occlusion=Occlusion(0, 27, 0, 27))
    np.testing.assert_array_equal(
        occluded.edited["spectral.alpha"], occluded.original["spectral.alpha"]
    )
    assert not np.array_equal(occluded.edited["spatial.mask"], occluded.original["spatial.mask"])
    swapped = what_if(fitted, scene, pixel, spatial_pixel=(10, 10))
    np.testing.assert_array_equal(
        swapped.edited["spectral.class_scores"], swapped.original["spectral.class_scores"]
    )
    assert not np.array_equal(swapped.edited["spatial.patch"], swapped.original["spatial.patch"])


def test_bad_edits_are_refused_with_the_valid_range():
    spectrum = np.zeros(10, np.float32)
    with pytest.raises(ValueError, match="not within the spectrum's 10 bands"):
        edit_spectrum(spectrum, BandEdit(5, 12, "zero"))
    with pytest.raises(ValueError, match="unknown fill"):
        edit_spectrum(spectrum, BandEdit(0, 2, "noise"))
    with pytest.raises(ValueError, match="within the 27×27 patch"):
        occlude_patch(np.zeros((4, 27, 27), np.float32), Occlusion(20, 30, 0, 5))
