"""The ``realtime-fer`` command line: explore | summary | train | export | evaluate | predict | video | serve."""

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from realtime_fer.data import SPLITS, DataError
from realtime_fer.recognizer import DEFAULT_MODEL, ModelError

COMMANDS: dict[str, Callable[[argparse.Namespace], int | None]] = {}


def command(function: Callable[[argparse.Namespace], int | None]):
    COMMANDS[function.__name__] = function
    return function


@command
def explore(args: argparse.Namespace) -> None:
    from realtime_fer.explore import explore as run

    run(args.data, Path(args.out))


@command
def summary(args: argparse.Namespace) -> None:
    from realtime_fer.models import create_model
    from realtime_fer.models import summary as table

    print(table(create_model(args.model)))


@command
def train(args: argparse.Namespace) -> None:
    from realtime_fer.train import TrainConfig
    from realtime_fer.train import train as run

    options = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    run(TrainConfig(**options))


@command
def export(args: argparse.Namespace) -> None:
    from realtime_fer.export import export_run

    metrics = export_run(args.run)
    print(json.dumps(metrics["accuracy"], indent=2))


@command
def evaluate(args: argparse.Namespace) -> None:
    from realtime_fer import data
    from realtime_fer.evaluate import evaluate as run
    from realtime_fer.evaluate import format_report, plot_confusion
    from realtime_fer.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer(args.model, tta=args.tta)
    report = run(recognizer, data.load(args.data, args.split))
    if args.confusion:
        plot_confusion(report, args.confusion)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2) if args.json else format_report(report))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realtime-fer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("explore", help="class counts per split (the paper's Table 1) and example grids")
    p.add_argument("data", help="fer2013.csv or a folder with train/ and test/")
    p.add_argument("--out", default="explore", help="folder for the PNGs (default: ./explore)")

    p = sub.add_parser("summary", help="layer table with output shapes and parameter counts")
    p.add_argument("--model", default="paper")

    p = sub.add_parser("train", help="train a registered model (defaults: its recipe)")
    p.add_argument("--data", required=True, help="fer2013.csv or a folder with train/ and test/")
    p.add_argument("--model", default="paper")
    p.add_argument("--out", help="run folder (default: runs/MODEL)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    p.add_argument("--val-split", choices=SPLITS, help="default: public_test if present, else test")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.pt")

    p = sub.add_parser("export", help="export a run's best checkpoint (e.g. after Ctrl-C)")
    p.add_argument("run", help="run folder holding checkpoints/")

    p = sub.add_parser("evaluate", help="accuracy, per-class report and confusion matrix via ONNX")
    p.add_argument("--model", default=DEFAULT_MODEL, help="shipped model name or model folder")
    p.add_argument("--data", required=True, help="fer2013.csv, a Kaggle root, or a folder of class folders")
    p.add_argument("--split", choices=SPLITS, help="needed for a CSV or a Kaggle root")
    p.add_argument("--tta", action="store_true", help="average with the mirrored face")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.add_argument("--confusion", help="write the confusion matrix PNG here")
    p.add_argument("--report", help="write the JSON report here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args) or 0
    except (DataError, ModelError, FileNotFoundError) as error:
        print(f"realtime-fer {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
