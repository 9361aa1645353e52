"""Accuracy, per-class precision / recall / F1 and the confusion matrix of a recognizer on a FaceSet;
on FER+ data, in the literature's protocol: accuracy on the majority-vote labels of the faces that
protocol keeps, plus how well the predicted distributions match the votes and how calibrated they are.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from realtime_fer import ferplus
from realtime_fer.calibration import expected_calibration_error, negative_log_likelihood
from realtime_fer.data import FaceSet
from realtime_fer.emotions import EMOTIONS
from realtime_fer.recognizer import EmotionRecognizer

RISK_COVERAGE_ACCURACY = 0.90  # the accuracy whose coverage reports quote ("coverage_at_90%")


def classification_report(
    labels: np.ndarray, predictions: np.ndarray, classes: Sequence[str] = EMOTIONS
) -> dict:
    """Accuracy, macro F1, per-class metrics and the confusion matrix (rows: truth, columns: prediction),
    both given as indices into ``classes``."""
    k = len(classes)
    confusion = np.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)
    per_class = {}
    for i, name in enumerate(classes):
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
        "classes": list(classes),
        "confusion_matrix": confusion.tolist(),
    }


def risk_coverage(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy on the faces a confidence threshold keeps, for every threshold: ``coverage`` (share of
    faces kept, the most confident first), ``accuracy`` and ``threshold`` arrays, and the largest
    coverage at which accuracy reaches :data:`RISK_COVERAGE_ACCURACY` with its threshold."""
    confidence = probabilities.max(1)
    order = np.argsort(-confidence, kind="stable")
    correct = (probabilities.argmax(1) == labels)[order]
    kept = np.arange(1, len(labels) + 1)
    accuracy = np.cumsum(correct) / kept
    reaching = np.flatnonzero(accuracy >= RISK_COVERAGE_ACCURACY)
    coverage, threshold = None, None
    if len(reaching):
        coverage = round(float(kept[reaching[-1]] / len(labels)), 4)
        threshold = round(float(confidence[order][reaching[-1]]), 4)
    return {
        "coverage": kept / len(labels),
        "accuracy": accuracy,
        "threshold": confidence[order],
        "coverage_at_90%": coverage,
        "threshold_at_90%": threshold,
    }


def _in_classes(probabilities: np.ndarray, own: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    """A recognizer's probabilities rearranged into ``classes`` (a class it lacks gets 0)."""
    out = np.zeros((len(probabilities), len(classes)), probabilities.dtype)
    for j, name in enumerate(own):
        out[:, list(classes).index(name)] = probabilities[:, j]
    return out


def evaluate(recognizer: EmotionRecognizer, faces: FaceSet) -> dict:
    """Run ``recognizer`` over every face of ``faces`` and report (the score users get).

    The classes are the data's, then any the model adds (a FER+ model on FER-2013: contempt). On FER+
    data only the faces the majority protocol keeps are scored, and the report adds the cross-entropy
    of the votes' distribution to the predicted one (``vote_cross_entropy``; lower is better).
    Every report has the negative log-likelihood and expected calibration error of the labels, and the
    coverage at which accuracy reaches 90% when the least confident faces are set aside."""
    faces = faces.scored()
    classes = [*faces.classes, *(c for c in recognizer.classes if c not in faces.classes)]
    probabilities = _in_classes(recognizer.predict_proba(faces.images), recognizer.classes, classes)
    report = classification_report(faces.labels, probabilities.argmax(1), classes)
    curve = risk_coverage(probabilities, faces.labels)
    calibration = {
        "nll": round(negative_log_likelihood(probabilities, faces.labels), 4),
        "ece": round(expected_calibration_error(probabilities, faces.labels), 4),
        **{key: value for key, value in curve.items() if key.endswith("%")},
    }
    points = np.unique(np.linspace(0, len(faces.labels) - 1, 101).round().astype(int))  # 1% steps
    sampled = {key: curve[key][points].round(4).tolist() for key in ("coverage", "accuracy", "threshold")}
    if faces.votes is not None:
        votes = ferplus.vote_distribution(faces.votes)
        predicted = np.clip(probabilities[:, : votes.shape[1]], 1e-12, None)
        calibration["vote_cross_entropy"] = round(float(-(votes * np.log(predicted)).sum(1).mean()), 4)
    return {
        "model": recognizer.name,
        "data": faces.source,
        "tta": recognizer.tta,
        "precision": recognizer.precision,
        "serving": recognizer.serving,
        "unreadable": len(faces.unreadable),
        **report,
        "calibration": calibration,
        "risk_coverage": sampled,  # in 1% steps of coverage
    }


def format_report(report: dict) -> str:
    lines = [
        f"model {report['model']} on {report['data']} "
        f"({report['faces']} faces, served as {report['serving']})",
        f"accuracy {report['accuracy'] * 100:.2f}%   macro F1 {report['macro_f1']:.4f}",
        "calibration: " + "   ".join(f"{k} {v}" for k, v in report["calibration"].items()),
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
    classes = report["classes"]
    ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), classes)
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


def plot_risk_coverage(curves: dict[str, dict], path: str | Path) -> None:
    """Accuracy against coverage (:func:`risk_coverage`) for each named curve, with the 90% line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for name, curve in curves.items():
        ax.plot(curve["coverage"], curve["accuracy"], label=name)
    ax.axhline(RISK_COVERAGE_ACCURACY, color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("coverage (share of faces labelled, most confident first)")
    ax.set_ylabel("accuracy on the faces labelled")
    ax.set_xlim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
