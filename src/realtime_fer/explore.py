"""Explore FER-2013 or FER+: class counts per split (the paper's Table 1), example grids and a count
chart. FER+ faces count under their majority-vote label; the faces that protocol leaves out do not."""

import os
from pathlib import Path

import numpy as np

from realtime_fer import data


def split_counts(path: str | os.PathLike) -> dict[str, dict[str, int]]:
    """Faces per class for every split the data set holds (train, then the test halves)."""
    counts = {"train": data.load(path, "train").class_counts()}
    halves = [s for s in ("public_test", "private_test") if data.has_split(path, s)]
    for split in halves or ["test"]:
        counts[split] = data.load(path, split).class_counts()
    return counts


def format_table(counts: dict[str, dict[str, int]]) -> str:
    """The paper's Table 1: one row per class, one column per split, with totals."""
    splits = list(counts)
    lines = [f"{'emotion':<10}" + "".join(f"{s:>14}" for s in splits)]
    for name in counts[splits[0]]:
        lines.append(f"{name:<10}" + "".join(f"{counts[s][name]:>14,}" for s in splits))
    lines.append(f"{'total':<10}" + "".join(f"{sum(counts[s].values()):>14,}" for s in splits))
    return "\n".join(lines)


def example_grid(faces: data.FaceSet, path: Path, per_class: int = 8, seed: int = 0) -> None:
    """A PNG with ``per_class`` random faces in a row for each emotion."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(seed)
    classes = faces.classes
    fig, axes = plt.subplots(len(classes), per_class, figsize=(per_class * 1.1, len(classes) * 1.2))
    for row, name in enumerate(classes):
        indices = np.flatnonzero(faces.labels == row)
        chosen = rng.choice(indices, size=min(per_class, len(indices)), replace=False)
        for col, ax in enumerate(axes[row]):
            ax.axis("off")
            if col < len(chosen):
                ax.imshow(faces.images[chosen[col]], cmap="gray", vmin=0, vmax=255)
        axes[row][0].set_title(name, loc="left", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def count_chart(counts: dict[str, dict[str, int]], path: Path) -> None:
    """A grouped bar chart of faces per class and split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    classes = list(next(iter(counts.values())))
    x = np.arange(len(classes))
    width = 0.8 / len(counts)
    fig, ax = plt.subplots(figsize=(9, 4))
    for i, (split, per_class) in enumerate(counts.items()):
        bars = ax.bar(x + i * width, [per_class[n] for n in classes], width, label=split)
        ax.bar_label(bars, fontsize=7)
    ax.set_xticks(x + width * (len(counts) - 1) / 2, classes)
    ax.set_ylabel("faces")
    ax.set_title("faces per class")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def explore(path: str | os.PathLike, out: Path) -> dict[str, dict[str, int]]:
    """Print Table 1 and write ``examples.png`` and ``class_counts.png`` into ``out``."""
    counts = split_counts(path)
    print(format_table(counts))
    out.mkdir(parents=True, exist_ok=True)
    example_grid(data.load(path, "train"), out / "examples.png")
    count_chart(counts, out / "class_counts.png")
    print(f"wrote {out / 'examples.png'} and {out / 'class_counts.png'}")
    return counts
