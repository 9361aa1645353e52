"""The seven FER-2013 expressions in one canonical order.

The canonical order is the Kaggle folder order (alphabetical). The original ``fer2013.csv``
numbers the classes differently, so CSV ids are mapped *by name* through ``CSV_ID_TO_EMOTION``.
"""

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

# fer2013.csv: 0=Angry, 1=Disgust, 2=Fear, 3=Happy, 4=Sad, 5=Surprise, 6=Neutral
CSV_ID_TO_EMOTION: dict[int, str] = {
    0: "angry",
    1: "disgust",
    2: "fear",
    3: "happy",
    4: "sad",
    5: "surprise",
    6: "neutral",
}

EMOTION_INDEX: dict[str, int] = {name: i for i, name in enumerate(EMOTIONS)}


def csv_id_to_index(csv_id: int) -> int:
    """Canonical class index of a ``fer2013.csv`` emotion id."""
    return EMOTION_INDEX[CSV_ID_TO_EMOTION[csv_id]]


# FER+ (Barsoum et al. 2016) adds contempt: its eight-class models list EMOTIONS, then "contempt", so the
# first seven outputs mean what a FER-2013 model's do (a warm start keeps their rows of the last layer).
FERPLUS_CLASSES: tuple[str, ...] = (*EMOTIONS, "contempt")

# Every class a model may name (a model.json's "classes" is an ordered subset of these).
KNOWN_EMOTIONS: frozenset[str] = frozenset(FERPLUS_CLASSES)
