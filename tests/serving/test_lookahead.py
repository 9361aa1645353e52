"""FaceEmotionPipeline.stream: the next frames detected on threads of their own, the same faces as
one frame at a time, in order, without waiting for frames a live source has not given yet."""

import threading
import time

import numpy as np
import pytest

from realtime_fer.lookahead import Lookahead
from realtime_fer.pipeline import FaceEmotionPipeline


class Recording:
    """A detector that finds no face and logs when each detection starts (and, with ``ms``, lasts)."""

    name = "recording"
    framing = (1.0, 0.0)

    def __init__(self, events: list, ms: float = 0.0):
        self.events, self.ms, self.count = events, ms, 0
        self.lock = threading.Lock()

    def detect(self, frame: np.ndarray) -> np.ndarray:
        with self.lock:
            self.events.append(("detect", int(frame[0, 0, 0])))
        time.sleep(self.ms / 1000)
        return np.zeros((0, 4), np.int32)

    def release_memory(self) -> None:
        pass


def numbered(count: int, pause_s: float = 0.0, events: list | None = None):
    """``count`` tiny frames whose first pixel is their number, ``pause_s`` apart (a paced source)."""
    for i in range(count):
        if i and pause_s:
            time.sleep(pause_s)
        if events is not None:
            events.append(("read", i))
        yield np.full((48, 64, 3), i, np.uint8)


def moving_faces(three_faces, count: int = 12) -> list[np.ndarray]:
    frame, _ = three_faces
    return [np.roll(frame, 6 * i, axis=1) for i in range(count)]


@pytest.mark.parametrize("ahead", [0, 1, 2])
def test_the_same_faces_and_ids_as_one_frame_at_a_time(recognizer, detector, three_faces, ahead):
    frames = moving_faces(three_faces)
    one_by_one = FaceEmotionPipeline(recognizer, detector, tracking=True)
    expected = [[face.to_dict() for face in one_by_one.process(frame)] for frame in frames]
    streamed = FaceEmotionPipeline(recognizer, detector, tracking=True)
    got = [(frame, [face.to_dict() for face in faces]) for frame, faces in streamed.stream(frames, ahead)]
    assert [faces for _, faces in got] == expected
    assert all(a is b for (a, _), b in zip(got, frames, strict=True))  # each frame with its own faces
    assert sum(len(faces) for faces in expected) == 3 * len(frames)


def test_timings_are_the_consumers(recognizer, detector, three_faces):
    pipeline = FaceEmotionPipeline(recognizer, detector)
    for _ in pipeline.stream(moving_faces(three_faces, 3), ahead=2):
        timings = pipeline.last_timings
        assert set(timings) == {"detect_ms", "detected", "classify_ms", "total_ms"}
        assert timings["detect_ms"] > 0 and timings["classify_ms"] > 0


def test_the_next_frames_are_detected_while_this_one_is_used(recognizer):
    events: list = []
    pipeline = FaceEmotionPipeline(recognizer, Recording(events))
    for frame, _ in pipeline.stream(numbered(4), ahead=2):
        time.sleep(0.1)  # drawing and encoding this frame
        events.append(("used", int(frame[0, 0, 0])))
    for i in range(3):
        assert events.index(("detect", i + 1)) < events.index(("used", i))


def test_one_frame_at_a_time_detects_nothing_ahead(recognizer):
    events: list = []
    pipeline = FaceEmotionPipeline(recognizer, Recording(events))
    for frame, _ in pipeline.stream(numbered(3), ahead=0):
        events.append(("used", int(frame[0, 0, 0])))
    assert events == [("detect", 0), ("used", 0), ("detect", 1), ("used", 1), ("detect", 2), ("used", 2)]


def test_a_paced_source_gets_each_frame_back_before_it_gives_the_next(recognizer):
    events: list = []
    pipeline = FaceEmotionPipeline(recognizer, Recording(events, ms=5))
    for frame, _ in pipeline.stream(numbered(4, pause_s=0.1, events=events), ahead=2):
        events.append(("used", int(frame[0, 0, 0])))
    for i in range(3):  # no frame waits for a later one to be read
        assert events.index(("used", i)) < events.index(("read", i + 1))


def test_a_source_that_fails_raises_after_the_frames_it_gave(recognizer):
    def failing():
        yield from numbered(2)
        raise OSError("camera unplugged")

    pipeline = FaceEmotionPipeline(recognizer, Recording([]))
    seen = []
    with pytest.raises(OSError, match="camera unplugged"):
        for frame, _ in pipeline.stream(failing(), ahead=2):
            seen.append(int(frame[0, 0, 0]))
    assert seen == [0, 1]


def test_a_frame_the_detector_refuses_raises_in_its_turn(recognizer, detector, three_faces):
    frames = [three_faces[0], three_faces[0], np.zeros((4, 4, 2), np.uint8), three_faces[0]]
    pipeline = FaceEmotionPipeline(recognizer, detector)
    seen = []
    with pytest.raises(ValueError, match="got shape"):
        for _, faces in pipeline.stream(frames, ahead=2):
            seen.append(len(faces))
    assert seen == [3, 3]


def test_stopping_early_ends_the_reader_and_detection_threads(recognizer):
    def endless():
        i = 0
        while True:
            yield np.full((48, 64, 3), i % 256, np.uint8)
            i += 1

    pipeline = FaceEmotionPipeline(recognizer, Recording([], ms=2))
    stream = pipeline.stream(endless(), ahead=2)
    for count, _ in enumerate(stream):
        if count == 3:
            break
    stream.close()
    names = [thread.name for thread in threading.enumerate()]
    assert not any(name == "frame-reader" or name.startswith("detect") for name in names), names


def test_ahead_must_be_at_least_one():
    with pytest.raises(ValueError, match="at least 1"):
        Lookahead(iter([]), lambda frame, index: frame, 0)


@pytest.mark.parametrize("ahead", [0, 2])
def test_detect_every_runs_the_detector_on_every_nth_frame_only(recognizer, ahead):
    events: list = []
    pipeline = FaceEmotionPipeline(recognizer, Recording(events), tracking=True, detect_every=3)
    detected = []
    for _ in pipeline.stream(numbered(8), ahead):
        detected.append(pipeline.last_timings["detected"])
    assert [i for kind, i in events if kind == "detect"] == [0, 3, 6]
    assert detected == [True, False, False, True, False, False, True, False]


def test_between_detections_the_faces_are_classified_where_they_were_seen(recognizer, detector, three_faces):
    frame, _ = three_faces
    calls = []
    real = detector.detect

    class Counting:
        name, framing = detector.name, detector.framing

        def detect(self, image):
            calls.append(1)
            return real(image)

        def release_memory(self):
            pass

    every = FaceEmotionPipeline(recognizer, Counting(), tracking=True, detect_every=4)
    each = FaceEmotionPipeline(recognizer, detector, tracking=True)
    for _ in range(8):
        skipped, detected = every.process(frame), each.process(frame)
        # the same boxes, ids and labels as detecting every frame of a still scene
        assert [(f.box, f.track_id, f.emotion) for f in skipped] == [(f.box, f.track_id, f.emotion)
                                                                     for f in detected]
        assert [f.box[0] for f in skipped] == sorted(f.box[0] for f in skipped) and len(skipped) == 3
    assert len(calls) == 2
    every.reset()
    every.process(frame)
    assert len(calls) == 3  # a new stream starts with a detection


def test_detect_every_checks_every_frame_and_needs_tracking(recognizer, detector, three_faces):
    pipeline = FaceEmotionPipeline(recognizer, detector, tracking=True, detect_every=2)
    pipeline.process(three_faces[0])
    with pytest.raises(ValueError, match="got shape"):  # a skipped frame is still checked
        pipeline.process(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match="needs tracking"):
        FaceEmotionPipeline(recognizer, detector, detect_every=2)
    with pytest.raises(ValueError, match="at least 1"):
        FaceEmotionPipeline(recognizer, detector, tracking=True, detect_every=0)
