"""The view sets: how many views each makes, and live video's cap."""

import numpy as np

from realtime_fer.tta import TTA_MODES, TTA_VIEWS, tta_views, video_tta


def test_each_mode_makes_as_many_views_as_it_says():
    faces = np.random.default_rng(0).random((3, 1, 48, 48), dtype=np.float32)
    for mode in TTA_MODES:
        views = tta_views(faces, mode)
        assert views.shape == (3 * TTA_VIEWS[mode], 1, 48, 48), mode
        np.testing.assert_array_equal(views[:3], faces)  # view by view: the faces themselves first


def test_live_video_takes_the_cheaper_of_the_models_views_and_flip():
    assert [video_tta(tta) for tta in TTA_MODES] == ["none", "flip", "flip"]
