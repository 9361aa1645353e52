"""``mirror-pair``: two trained networks of one architecture in one graph, the second looking at the
mirror image of the face; their probabilities are averaged.

Two passes per face, the cost of serving one network with flip TTA; two independently trained
networks disagree more than one network and its mirror view do, so their average can gain more
(not yet measured on FER-2013: see the README's "Known gaps").
``realtime-fer pair`` builds one from two trained model folders.
"""

from typing import Any

from torch import Tensor, nn

from realtime_fer.architectures.registry import create_model, register_model


class MirrorPair(nn.Module):
    """``first`` on the face, ``second`` on its mirror image; returns the log of their averaged
    probabilities, so the softmax that serving adds gives that average back exactly."""

    def __init__(self, first: nn.Module, second: nn.Module) -> None:
        super().__init__()
        self.first = first
        self.second = second

    def forward(self, x: Tensor) -> Tensor:
        # plain ops (no LogSumExp): ONNX Runtime's shape inference, which quantization runs first, knows them
        return ((self.first(x).softmax(1) + self.second(x.flip(3)).softmax(1)) / 2).log()


@register_model("mirror-pair", "two trained networks, the second on the mirror image (realtime-fer pair)")
def mirror_pair(member: str = "vgg", member_config: dict[str, Any] | None = None) -> nn.Module:
    """Two untrained ``member`` networks; ``realtime-fer pair`` loads their weights."""
    config = member_config or {}
    return MirrorPair(create_model(member, **config), create_model(member, **config))
