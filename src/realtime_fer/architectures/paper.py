"""The CNN of "Real-time facial expression recognition using CNN" (2020), Table 2, in PyTorch.

Four conv blocks (64 3x3, 128 5x5, 512 3x3, 512 3x3; each BatchNorm, ReLU, MaxPool 2, Dropout),
then Dense 256 and Dense 512 (each BatchNorm, ReLU, Dropout) and Dense 7. Keras defaults are kept
where they matter: Glorot-uniform weights, zero biases, BatchNorm momentum 0.99 and epsilon 1e-3.
The network returns logits; the exported ONNX graph appends the paper's softmax.
"""

from typing import cast

from torch import Tensor, nn

from realtime_fer.architectures.registry import register_model
from realtime_fer.emotions import EMOTIONS

KERAS_MOMENTUM, KERAS_EPS = 0.01, 1e-3  # BatchNorm: Keras momentum 0.99 is PyTorch momentum 0.01


def conv_block(in_channels: int, out_channels: int, kernel: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, padding="same"),
        nn.BatchNorm2d(out_channels, eps=KERAS_EPS, momentum=KERAS_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Dropout(dropout),
    )


def dense_block(in_features: int, out_features: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(in_features, out_features),
        nn.BatchNorm1d(out_features, eps=KERAS_EPS, momentum=KERAS_MOMENTUM),
        nn.ReLU(inplace=True),
        nn.Dropout(dropout),
    )


class PaperCNN(nn.Module):
    def __init__(self, num_classes: int = len(EMOTIONS), dropout: float = 0.25) -> None:
        super().__init__()
        self.features = nn.Sequential(
            conv_block(1, 64, 3, dropout),
            conv_block(64, 128, 5, dropout),
            conv_block(128, 512, 3, dropout),
            conv_block(512, 512, 3, dropout),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            dense_block(512 * 3 * 3, 256, dropout),
            dense_block(256, 512, dropout),
            nn.Linear(512, num_classes),
        )
        for module in self.modules():
            if isinstance(module, nn.Conv2d | nn.Linear):  # each with a bias
                nn.init.xavier_uniform_(module.weight)
                nn.init.zeros_(cast(Tensor, module.bias))

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(self.features(x))


@register_model(
    "paper",
    "the 2020 paper's CNN: 4 conv blocks + 2 dense blocks, 4.48M parameters",
    optimizer="adam",
    lr=5e-4,
    epochs=15,
    batch_size=64,
    schedule="plateau",
    augment="flip",
)
def paper(**config) -> PaperCNN:
    return PaperCNN(**config)
