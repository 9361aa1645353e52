"""Choosing the device and the numeric precision (autocast) for training."""

import torch

from realtime_fer.choices import check_choice
from realtime_fer.cpu import has_native_bf16
from realtime_fer.options import TRAIN_PRECISIONS


def pick_device(device: str = "auto", precision: str = "auto") -> tuple[torch.device, torch.dtype | None]:
    """(device, autocast dtype or None for fp32) for a training ``precision`` of
    :data:`options.TRAIN_PRECISIONS`. ``auto`` means CUDA when present, bf16 where fast."""
    check_choice("training precision", precision, TRAIN_PRECISIONS)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    chosen = torch.device(device)
    if precision == "fp32":
        return chosen, None
    if precision == "bf16":
        return chosen, torch.bfloat16
    if chosen.type == "cuda":
        return chosen, torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    return chosen, torch.bfloat16 if has_native_bf16() else None


def autocast(device: torch.device, amp_dtype: torch.dtype | None) -> torch.autocast:
    """Autocast to ``amp_dtype`` on ``device``; a no-op context when ``amp_dtype`` is None (fp32)."""
    return torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None)
