"""Temperature scaling, calibration error and the risk-coverage curve on hand-made probabilities."""

import numpy as np
import pytest

from realtime_fer.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
)
from realtime_fer.evaluate import classification_report, risk_coverage


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_temperature_divides_the_logits():
    logits = np.array([[2.0, 0.5, -1.0], [0.0, 3.0, 1.0]])
    np.testing.assert_allclose(apply_temperature(softmax(logits), 2.0), softmax(logits / 2.0), rtol=1e-6)
    np.testing.assert_array_equal(apply_temperature(softmax(logits), 1.0), softmax(logits))
    np.testing.assert_array_equal(apply_temperature(softmax(logits), 0.5).argmax(1), logits.argmax(1))


def test_the_fitted_temperature_undoes_a_known_overconfidence():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 5)) * 2
    calibrated = softmax(logits)
    labels = np.array([rng.choice(5, p=p) for p in calibrated])  # labels drawn from the true model
    overconfident = softmax(logits * 3)  # as if served at T = 1/3
    temperature = fit_temperature(overconfident, labels)
    assert temperature == pytest.approx(3.0, rel=0.1)
    before = expected_calibration_error(overconfident, labels)
    after = expected_calibration_error(apply_temperature(overconfident, temperature), labels)
    assert after < before / 3
    assert negative_log_likelihood(apply_temperature(overconfident, temperature), labels) < (
        negative_log_likelihood(overconfident, labels)
    )


def test_calibration_error_by_hand():
    # two faces at confidence 0.9 (one right), two at 0.6 (both right): |0.5-0.9|/2 + |1-0.6|/2
    probabilities = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    labels = np.array([0, 1, 0, 1])
    assert expected_calibration_error(probabilities, labels, bins=10) == pytest.approx(0.4)


def test_risk_coverage_sets_the_least_confident_aside_first():
    probabilities = np.array([[0.95, 0.05], [0.9, 0.1], [0.3, 0.7], [0.55, 0.45], [0.52, 0.48]])
    labels = np.array([0, 0, 1, 1, 0])  # the fourth face, at 0.55, is wrong
    curve = risk_coverage(probabilities, labels)
    np.testing.assert_allclose(curve["coverage"], [0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(curve["accuracy"], [1, 1, 1, 0.75, 0.8])
    assert curve["coverage_at_90%"] == 0.6 and curve["threshold_at_90%"] == 0.7


def test_the_report_takes_the_classes_it_is_given():
    report = classification_report(np.array([0, 7, 7]), np.array([0, 7, 3]), [f"c{i}" for i in range(8)])
    assert report["per_class"]["c7"] == {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}
    assert len(report["confusion_matrix"]) == 8


def test_a_model_folder_is_calibrated_and_given_the_threshold_of_its_risk_coverage_curve(tmp_path):
    from realtime_fer.data import FaceSet
    from realtime_fer.export import calibrate_folder
    from realtime_fer.model_folder import SPEC_FILE, read_json
    from realtime_fer.recognizer import EmotionRecognizer
    from tests.tiny_models import write_model

    images = np.random.default_rng(1).integers(0, 256, (200, 48, 48), dtype=np.uint8)
    raw = EmotionRecognizer(write_model(tmp_path / "model"), precision="fp32").predict_proba(images)
    folder = write_model(tmp_path / "model", temperature=5.0, uncertain_below=0.99)  # stale settings
    labels = raw.argmax(1)
    unsure = np.argsort(raw.max(1))[:70]  # the least confident third wrong: 90% reached at ~2/3
    labels[unsure] = (labels[unsure] + 1) % raw.shape[1]
    faces = FaceSet(images, labels, np.array([str(i) for i in range(200)]), "test", "fp")

    settings = calibrate_folder(folder, faces)
    assert settings["temperature"] == pytest.approx(fit_temperature(raw, labels))
    curve = risk_coverage(apply_temperature(raw, settings["temperature"]), labels)
    assert 0.6 < curve["coverage_at_90%"] < 0.75
    assert settings["uncertain_below"] == round(curve["threshold_at_90%"], 2)
    assert read_json(folder / SPEC_FILE)["serving"] == {"tta": "none", **settings}
