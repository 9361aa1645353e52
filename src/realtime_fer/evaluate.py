"""Accuracy, per-class precision / recall / F1 and the confusion matrix of a recognizer on a FaceSet."""

from pathlib import Path

import numpy as np

from realtime_fer.data import FaceSet
from realtime_fer.emotions import EMOTIONS
from realtime_fer.recognizer import EmotionRecognizer


def classification_report(labels: np.ndarray, predictions: np.ndarray) -> dict:
    """Accuracy, macro F1, per-class metrics and the confusion matrix (rows: truth, columns: prediction)."""
    k = len(EMOTIONS)
    confusion = np.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)
    per_class = {}
    for i, name in enumerate(EMOTIONS):
        true_pos = confusion[i, i]
        precision = true_pos / max(confusion[:, i].sum(), 1)
        recall = true_pos / max(confusion[i].sum(), 1)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {
            "precision": round(float(precision), 4),
            "recall": round(float(recall), 4),
            "f1": round(float(f1), 4),
            "support": int(confusion[i].sum()),
        }
    return {
        "accuracy": round(float(np.trace(confusion) / max(confusion.sum(), 1)), 4),
        "macro_f1": round(float(np.mean([c["f1"] for c in per_class.values()])), 4),
        "faces": int(confusion.sum()),
        "per_class": per_class,
        "classes": list(EMOTIONS),
        "confusion_matrix": confusion.tolist(),
    }


def evaluate(recognizer: EmotionRecognizer, faces: FaceSet) -> dict:
    """Run ``recognizer`` over every face of ``faces`` and report (the score users get)."""
    predictions = recognizer.predict_proba(faces.images).argmax(1)
    report = classification_report(faces.labels, predictions)
    return {
        "model": recognizer.name,
        "data": faces.source,
        "tta": recognizer.tta,
        "precision": recognizer.precision,
        "serving": recognizer.serving,
        "unreadable": len(faces.unreadable),
        **report,
    }


def format_report(report: dict) -> str:
    lines = [
        f"model {report['model']} on {report['data']} "
        f"({report['faces']} faces, served as {report['serving']})",
        f"accuracy {report['accuracy'] * 100:.2f}%   macro F1 {report['macro_f1']:.4f}",
        "",
        f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}",
    ]
    for name, c in report["per_class"].items():
        lines.append(
            f"{name:<10}{c['precision']:>10.4f}{c['recall']:>10.4f}{c['f1']:>10.4f}{c['support']:>10}"
        )
    return "\n".join(lines)


def plot_confusion(report: dict, path: str | Path) -> None:
    """A row-normalised confusion matrix PNG with counts in each cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.array(report["confusion_matrix"])
    rates = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45, ha="right")
    ax.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for (i, j), n in np.ndenumerate(counts):
        ax.text(
            j,
            i,
            f"{rates[i, j]:.2f}\n({n})",
            ha="center",
            va="center",
            fontsize=7,
            color="white" if rates[i, j] > 0.5 else "black",
        )
    ax.set_title(f"{report['model']}: accuracy {report['accuracy'] * 100:.1f}%")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
