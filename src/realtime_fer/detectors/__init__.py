"""The face detectors behind :mod:`realtime_fer.detector`: one module each, plus shared box arithmetic."""
