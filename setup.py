"""Build step: the shipped models at the repo root (``models/``) become the data-only package
``realtime_fer.shipped_models`` in the wheel. Everything else is configured in pyproject.toml."""

from setuptools import find_packages, setup

setup(
    packages=[*find_packages("src"), "realtime_fer.shipped_models"],
    package_dir={"": "src", "realtime_fer.shipped_models": "models"},
)
