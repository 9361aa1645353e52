"""Calibrated confidence: temperature scaling of served probabilities (Guo et al. 2017)."""

import numpy as np


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """``softmax(log p / T)`` row by row: what the network's softmax gives with its logits divided by
    ``T`` (T > 1 softens, T < 1 sharpens; 1 changes nothing). Works on averaged TTA probabilities too."""
    if temperature == 1.0:
        return probabilities
    logits = np.log(np.clip(probabilities, 1e-12, None)) / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    scaled = np.exp(logits)
    return (scaled / scaled.sum(axis=-1, keepdims=True)).astype(probabilities.dtype)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean ``-log p[label]``: the quantity temperature scaling minimises."""
    chosen = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(chosen, 1e-12, None)).mean())


def fit_temperature(
    probabilities: np.ndarray, labels: np.ndarray, low: float = 0.05, high: float = 20.0
) -> float:
    """The temperature in [low, high] whose scaled ``probabilities`` give ``labels`` the least negative
    log-likelihood (a golden-section search over log T: the likelihood is unimodal in T)."""
    if len(labels) == 0:
        raise ValueError("fitting a temperature needs at least one labelled face")
    probabilities = probabilities.astype(np.float64)
    a, b = np.log(low), np.log(high)
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(60):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if negative_log_likelihood(apply_temperature(probabilities, np.exp(c)), labels) <= (
            negative_log_likelihood(apply_temperature(probabilities, np.exp(d)), labels)
        ):
            b = d
        else:
            a = c
    return round(float(np.exp((a + b) / 2)), 4)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE: the gap between confidence and accuracy, averaged over ``bins`` equal-width confidence bins
    weighted by their share of the faces (Guo et al. 2017)."""
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == labels
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)
