"""VGG-style CNNs for 48x48 faces: stages of 3x3 conv + BatchNorm + ReLU, global pooling.

Two sizes are registered: ``compact`` (640k parameters, 44M multiply-accumulates) for real time
and ``vgg`` (2.6M, 264M) for accuracy; ``vgg-kd`` is ``vgg`` with a distillation recipe. Plain 3x3
convolutions rather than depthwise ones: at 48x48 and batch 1, ONNX Runtime's per-op overhead
dominates, and fewer, denser ops run faster on a CPU than many thin ones; on the training side, bf16
matrix units are busiest with dense convolutions.
"""

from typing import Any

from torch import Tensor, nn

from realtime_fer.architectures.registry import register_model
from realtime_fer.emotions import EMOTIONS


def conv_bn_relu(in_channels: int, out_channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class VGGStyleCNN(nn.Module):
    """``widths[i]`` channels and ``depths[i]`` convs in stage i, a 2x2 max-pool after each stage.

    Extra convs go to the late, low-resolution stages, where they cost little time per face.
    """

    def __init__(
        self,
        widths: tuple[int, ...] = (32, 48, 96, 192),
        depths: tuple[int, ...] = (1, 1, 2, 2),
        dropout: float = 0.3,
        num_classes: int = len(EMOTIONS),
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for width, depth in zip(widths, depths, strict=True):
            for _ in range(depth):
                layers += conv_bn_relu(channels, width)
                channels = width
            layers.append(nn.MaxPool2d(2))
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels, num_classes)
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: Tensor) -> Tensor:
        # FER-2013 faces average ~0.5 brightness with ~0.25 spread: centre them inside the graph,
        # so every caller feeds plain [0, 1] pixels.
        return self.head(self.features((x - 0.5) / 0.25))


# the training recipe both sizes share; each adds its weight decay and length
RECIPE: dict[str, Any] = {
    "optimizer": "adamw",
    "lr": 2e-3,
    "batch_size": 128,
    "schedule": "onecycle",
    "augment": "strong",
    "label_smoothing": 0.1,
    "ema": 0.999,
    "select": "last",
}


@register_model(
    "compact",
    "compact VGG-style CNN for real time (global pooling head)",
    weight_decay=5e-4,
    epochs=60,
    **RECIPE,
)
def compact(**config) -> VGGStyleCNN:
    for key in ("widths", "depths"):  # JSON gives lists back
        if key in config:
            config[key] = tuple(config[key])
    return VGGStyleCNN(**config)


@register_model(
    "vgg",
    "VGG-style CNN sized for accuracy: two 3x3 convs per stage, widths 48-384 (global pooling head)",
    # ten views: 0.5 points over flip on PublicTest for 3.4 instead of 0.8 ms a face (README)
    serve_tta="ten",
    weight_decay=0.05,
    epochs=125,
    **RECIPE,
)
def vgg(**config) -> VGGStyleCNN:
    config = {"widths": (48, 96, 192, 384), "depths": (2, 2, 2, 2), **config}
    return compact(**config)


@register_model(
    "vgg-kd",
    "the vgg network distilled from the shipped `accurate` (its flip views), served with flip TTA only",
    serve_tta="flip",
    weight_decay=0.05,
    epochs=80,
    teacher="accurate",
    teacher_tta="flip",
    distill_weight=0.7,
    temperature=2.0,
    **RECIPE,
)
def vgg_kd(**config) -> VGGStyleCNN:
    return vgg(**config)
