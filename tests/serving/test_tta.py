"""The view sets: live video's cap."""

from realtime_fer.tta import TTA_MODES, video_tta


def test_live_video_takes_the_cheaper_of_the_models_views_and_flip():
    assert [video_tta(tta) for tta in TTA_MODES] == ["none", "flip", "flip"]
