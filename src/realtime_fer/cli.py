"""The realtime-fer command line: real-time facial expression recognition (FER-2013), from training to
serving."""

import argparse
import json
import os
import shlex
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import realtime_fer
from realtime_fer import serving_defaults
from realtime_fer.data import SPLITS, DataError
from realtime_fer.detector import DEFAULT_DETECTOR, DETECTORS, DetectorError
from realtime_fer.engines import ENGINES
from realtime_fer.ferplus import LABEL_MODES
from realtime_fer.model_folder import DEFAULT_MODEL, PRECISIONS, ModelError, check_threshold
from realtime_fer.onnx_session import DEFAULT_PROVIDER, PROVIDERS, ProviderError
from realtime_fer.options import AUGMENTS, OPTIMIZERS, SCHEDULES, SELECTS, TRAIN_PRECISIONS
from realtime_fer.sources import SourceError, open_source, redact, source_kind
from realtime_fer.tta import TTA_MODES, TTA_SHIFT

COMMANDS: dict[str, Callable[[argparse.Namespace], int | None]] = {}
TOKEN_ENV = "REALTIME_FER_TOKEN"
# Commands that need the train extra, and what of it they import: checked before they start, so that a
# serving-only install gets one line, not a traceback (nor a finished training run with no export).
TRAIN_EXTRA_MODULES = {
    "summary": ("torch",),
    "train": ("torch", "onnx", "onnxscript"),
    "export": ("torch", "onnx", "onnxscript"),
    "pair": ("torch", "onnx", "onnxscript"),
    "quantize": ("onnx",),
}
MODEL_HELP = f"a shipped model's name (default: {DEFAULT_MODEL}) or a model folder"


def command(function: Callable[[argparse.Namespace], int | None]):
    COMMANDS[function.__name__] = function
    return function


@command
def explore(args: argparse.Namespace) -> None:
    from realtime_fer.explore import explore as run

    run(args.data, Path(args.out))


@command
def summary(args: argparse.Namespace) -> None:
    from realtime_fer.architectures import create_model, list_models, model_from_json
    from realtime_fer.architectures import summary as table
    from realtime_fer.model_folder import SPEC_FILE, resolve_model_dir

    if args.model in list_models():
        print(table(create_model(args.model)))
    else:  # a shipped model or a model folder: the architecture its model.json records
        print(table(model_from_json(resolve_model_dir(args.model) / SPEC_FILE)))
        from realtime_fer.recognizer import EmotionRecognizer

        choice = EmotionRecognizer(args.model).serving_choice
        print(f"served here: {choice['precision']} on {choice['provider']}: {choice['reason']}")


@command
def train(args: argparse.Namespace) -> None:
    from realtime_fer.export import export_run
    from realtime_fer.train import TrainConfig, read_init
    from realtime_fer.train import train as run

    # an option not given is None: TrainConfig's default, or the architecture's recipe
    options = {k: v for k, v in vars(args).items() if k in TrainConfig.field_names() and v is not None}
    if args.init and not args.arch:  # a warm start trains the architecture it starts from
        options["arch"] = read_init(args.init)[0]["architecture"]
    trained = run(TrainConfig(**options, command=shlex.join(["realtime-fer", *args.argv])))
    if trained is not None:  # the process that writes the run folder (rank 0 under torchrun)
        export_run(trained.out, (trained.train_set, trained.val_set))


@command
def export(args: argparse.Namespace) -> None:
    from realtime_fer.export import export_run

    metrics = export_run(args.run)
    print(json.dumps(metrics["accuracy"], indent=2))


@command
def pair(args: argparse.Namespace) -> None:
    from realtime_fer.export import export_pair

    metrics = export_pair(
        args.first, args.second, args.data, args.out, shlex.join(["realtime-fer", *args.argv])
    )
    print(json.dumps(metrics["accuracy"], indent=2))


@command
def evaluate(args: argparse.Namespace) -> None:
    from realtime_fer import data
    from realtime_fer.evaluate import evaluate as run
    from realtime_fer.evaluate import format_report, plot_confusion, plot_risk_coverage
    from realtime_fer.recognizer import EmotionRecognizer

    recognizer = EmotionRecognizer(args.model, tta=args.tta, precision=args.precision, provider=args.provider)
    print(f"loading {args.data} ...", file=sys.stderr, flush=True)  # a first load decodes every image
    faces = data.load(args.data, args.split)
    print(f"classifying {len(faces)} faces ({recognizer.serving}) ...", file=sys.stderr, flush=True)
    report = run(recognizer, faces)
    if args.confusion:
        plot_confusion(report, args.confusion)
    if args.risk_coverage:
        plot_risk_coverage({recognizer.name: report["risk_coverage"]}, args.risk_coverage)
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2) if args.json else format_report(report))


@command
def quantize(args: argparse.Namespace) -> int:
    from realtime_fer.model_folder import QUANTIZATION_FILE, resolve_model_dir
    from realtime_fer.quantize import quantize as run

    if args.calibration_faces < 1:
        print("realtime-fer quantize: error: --calibration-faces must be at least 1", file=sys.stderr)
        return 2
    report = run(args.model, args.data, args.calibration_faces)
    folder = resolve_model_dir(args.model)
    megabytes = {name: f"{size / 1e6:.1f} MB" for name, size in report["size_bytes"].items()}
    accuracy, scored = report["accuracy"], report["evaluation"]
    print(f"wrote {folder / report['int8_file']} ({megabytes['int8']}; fp32 {megabytes['fp32']}), "
          f"calibrated on {report['calibration']['faces']} training faces")
    print(f"{scored['split']} accuracy ({scored['faces']} faces): fp32 {accuracy['fp32']:.2%}, "
          f"int8 {accuracy['int8']:.2%} ({report['accuracy_change'] * 100:+.2f} points; "
          f"{report['label_agreement']:.1%} of labels unchanged)")
    print(f"wrote {folder / QUANTIZATION_FILE}")
    return 0


@command
def predict(args: argparse.Namespace) -> int:
    import csv

    import cv2

    from realtime_fer.detector import create_detector
    from realtime_fer.pipeline import FaceEmotionPipeline
    from realtime_fer.recognizer import EmotionRecognizer
    from realtime_fer.report import atomic_open, face_values

    out = Path(args.out) if args.out else None
    if out and out.exists() and not out.is_dir():
        raise SourceError(f"--out {out}: is a file; give a folder for the annotated copies")
    if args.csv and not Path(args.csv).resolve().parent.is_dir():
        raise SourceError(f"cannot write {args.csv}: its folder does not exist")
    # set up for stills (searched for faces down to 20 px unless --min-face says otherwise)
    recognizer = EmotionRecognizer(
        args.model, tta=args.tta, uncertain_below=args.uncertain_below, provider=args.provider
    )
    detector = create_detector(args.detector, False, args.min_face, args.threshold, provider=args.provider)
    pipeline = FaceEmotionPipeline(recognizer, detector)
    if out:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:  # a file on the way, no permission, ...
            raise SourceError(f"--out {out}: cannot create the folder ({error.strerror})") from None
    results: list[dict[str, Any]] = []
    failed, table = 0, []
    for name, problem in _image_names(args.images):
        try:
            if problem:
                raise ValueError(problem)
            image = _read_image(name)
        except ValueError as error:  # report it and go on with the other images
            print(f"realtime-fer predict: error: {name}: {error}", file=sys.stderr)
            results.append({"image": name, "error": str(error)})
            failed += 1
            continue
        faces = pipeline.process(image)
        results.append({"image": name, "faces": [face.to_dict() for face in faces]})
        table += [[name, n, *face_values(face, recognizer.classes)] for n, face in enumerate(faces, 1)]
        if not args.json:
            print(_face_table(name, faces, recognizer.classes))
        target = out / _output_name(name) if out else None
        if target and not cv2.imwrite(str(target), pipeline.annotate(image, faces)):
            print(f"realtime-fer predict: error: cannot write {target}", file=sys.stderr)
            failed += 1
    if args.csv:
        with atomic_open(args.csv) as handle:
            writer = csv.writer(handle)
            writer.writerow(predict_csv_fields(recognizer.classes))
            writer.writerows(table)
    if args.json:
        print(json.dumps(results, indent=2))
    return 2 if failed else 0


def predict_csv_fields(classes: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of ``predict --csv``: the image, the face's number in it (1, 2, ... left to right),
    its box, label, confidence, a probability per class and ``uncertain``."""
    from realtime_fer.report import face_fields

    return ("image", "face", *face_fields(classes)[3:])


DEMO_IMAGE = "demo"  # predict's name for the bundled frame


def _is_demo(name: str) -> bool:
    """Whether ``name`` stands for the bundled frame: ``demo``, where no such file exists."""
    return name == DEMO_IMAGE and not Path(name).exists()


def _image_names(specs: list[str]) -> Iterator[tuple[str, str | None]]:
    """``(name, problem)`` per image: a folder or glob gives the images in it, a file itself."""
    from glob import has_magic

    from realtime_fer.batch import BatchError, collect

    for spec in specs:
        if not (has_magic(spec) or Path(spec).is_dir()):
            yield spec, None
            continue
        try:
            found = collect([spec], kinds=("image",))
        except BatchError as error:
            yield spec, str(error).removeprefix(f"{spec}: ")
            continue
        if not found:
            yield spec, "no images in this folder"
        yield from ((str(path), None) for path in found)


@command
def batch(args: argparse.Namespace) -> int:
    from importlib.util import find_spec

    from realtime_fer.batch import BatchError, Settings, run_batch
    from realtime_fer.engines import DASK_MODULE, EngineError

    def error(message: str) -> int:
        print(f"realtime-fer batch: error: {message}", file=sys.stderr)
        return 2

    if args.address and args.engine != "dask":
        return error("--address names a Dask scheduler: it needs --engine dask")
    if args.engine == "dask" and find_spec(DASK_MODULE) is None:
        return error(f"--engine dask needs the cluster extra (no {DASK_MODULE}): {extra_hint('cluster')}")
    settings = Settings(
        args.model, args.detector, args.tta, args.uncertain_below, args.min_face, args.threshold,
        args.provider,
    )
    try:
        result = run_batch(args.inputs, args.out, settings, args.workers, progress=True, engine=args.engine,
                           address=args.address)
    except (BatchError, EngineError) as problem:
        return error(str(problem))
    print(f"{result.done} files done, {result.skipped} done before, {result.failed} failed; "
          f"wrote {Path(args.out) / 'index.csv'}")
    return 2 if result.failed else 0


@command
def video(args: argparse.Namespace) -> int:
    from realtime_fer.detector import create_detector
    from realtime_fer.pipeline import FaceEmotionPipeline
    from realtime_fer.recognizer import EmotionRecognizer
    from realtime_fer.tta import video_tta
    from realtime_fer.video import analyse
    from realtime_fer.view_budget import ViewBudget

    if not (args.out or args.csv or args.report):
        print("realtime-fer video: error: nothing to write: give --report DIR, --csv FILE or --out VIDEO",
              file=sys.stderr)
        return 2
    if args.no_tracking and (args.report or args.detect_every > 1):
        needs = "--report" if args.report else "--detect-every"
        print(f"realtime-fer video: error: {needs} needs tracking (leave out --no-tracking)", file=sys.stderr)
        return 2
    if Path(args.input).is_dir():
        print(f"realtime-fer video: error: {args.input}: is a folder; `realtime-fer batch` takes folders",
              file=sys.stderr)
        return 2
    recognizer = EmotionRecognizer(
        args.model, tta=args.tta, uncertain_below=args.uncertain_below, provider=args.provider
    )
    detector = create_detector(args.detector, True, args.min_face, args.threshold, provider=args.provider)
    # a camera or stream (not a file) with no --tta: live video's views, as many as frames afford
    budget = None
    if args.tta is None and source_kind(args.input) in ("camera", "stream"):
        recognizer = recognizer.with_tta(video_tta(recognizer.tta))
        budget = ViewBudget.seeded(None, recognizer.serving_choice)
    pipeline = FaceEmotionPipeline(
        recognizer, detector, tracking=not args.no_tracking, budget=budget, detect_every=args.detect_every
    )
    result = analyse(args.input, pipeline, report=args.report, out=args.out, csv=args.csv,
                     max_frames=args.max_frames)
    written = ", ".join(str(path) for path in (args.out, args.csv, args.report) if path)
    print(f"{result.frames} frames, {result.faces} faces"
          + (f", {result.summary['tracks']} tracks" if args.report else "") + f"; wrote {written}")
    if note := result.summary.get("video", {}).get("note"):
        print(f"realtime-fer video: note: {args.out}: {note}", file=sys.stderr)
    return 0


@command
def serve(args: argparse.Namespace) -> int:
    from realtime_fer.web import create_app
    from realtime_fer.web.server import create_server, run_until_stopped

    # a video file is checked now (a camera or stream opens only when someone watches, so a missing
    # camera never stops the app); the model loads next, so a missing or corrupt one stops us before
    # the port is bound
    if source_kind(args.source) == "file":
        open_source(args.source).close()
    app = create_app(serve_config(args))
    host = f"[{args.host}]" if ":" in args.host else args.host
    try:
        server = create_server(app, args.host, args.port)
    except OSError as error:
        reason = error.strerror or error
        print(f"realtime-fer serve: error: cannot listen on {host}:{args.port} ({reason})", file=sys.stderr)
        return 2
    pipeline = app.extensions["realtime_fer"].pipeline
    print(f"realtime-fer: model {pipeline.recognizer.name}, detector {pipeline.detector.name}, "
          f"stream source {redact(args.source)!r}")
    # a name such as "localhost" may bind several sockets, which have no single effective_port
    port = getattr(server, "effective_port", args.port)
    print(f"realtime-fer: serving on http://{host}:{port}/ (Ctrl-C to stop)", flush=True)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        protection = (
            "a token is required" if app.config["TOKEN"]
            else f"anyone who can reach it may use it (set --token or ${TOKEN_ENV})"
        )
        print(f"realtime-fer: warning: listening beyond this machine on {host}: {protection}; there is "
              "no TLS, so use it behind an https proxy", file=sys.stderr, flush=True)
        print("realtime-fer: note: browsers offer the camera only to https:// or localhost pages; "
              "/stream and image uploads work from anywhere", flush=True)
    run_until_stopped(server, app.extensions["realtime_fer"].broadcast)
    print("realtime-fer: stopped")
    return 0


def serve_config(args: argparse.Namespace) -> dict:
    """The app's settings (:data:`realtime_fer.web.DEFAULTS`'s keys) from ``serve``'s options."""
    return {
        "MODEL": args.model,
        "PROVIDER": args.provider,
        "TTA": args.tta,
        "UNCERTAIN_BELOW": args.uncertain_below,
        "DETECTOR": args.detector,
        "MIN_FACE": args.min_face,
        "THRESHOLD": args.threshold,
        "SOURCE": args.source,
        "DETECT_EVERY": args.detect_every,
        "TOKEN": args.token or os.environ.get(TOKEN_ENV) or None,
        "ALLOW_ORIGIN": args.allow_origin,
        "ANALYSIS_QUEUE": args.queue,
        "STREAM_MAX_VIEWERS": args.max_viewers,
    }


def _read_image(name: str):
    """A BGR image; ``ValueError`` saying why when it cannot be read. ``demo`` (where no such file
    exists) is the bundled frame of six faces (:func:`realtime_fer.demo.demo_image`)."""
    import cv2
    import numpy as np

    path = Path(name)
    if _is_demo(name):
        from realtime_fer.demo import demo_image

        return demo_image()
    if not path.is_file():
        raise ValueError("no such file")
    data = np.fromfile(path, np.uint8)
    if data.size == 0:
        raise ValueError("empty file")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("not an image OpenCV can read")
    return image


def _output_name(name: str) -> str:
    """The file name of an image's annotated copy: its own (``demo``'s: ``demo.jpg``)."""
    return f"{DEMO_IMAGE}.jpg" if _is_demo(name) else Path(name).name


def _face_table(name: str, faces: list, classes: tuple[str, ...]) -> str:
    """A face a line: box, emotion, confidence, a column per class and whether it is uncertain."""
    if not faces:
        return f"{name}: no faces found\n"
    boxes = ["(" + ", ".join(map(str, face.box)) + ")" for face in faces]
    width = max(len(box) for box in [*boxes, "box (x, y, w, h)"]) + 2  # the widest box sets the column
    header = f"{'face':>4}  {'box (x, y, w, h)':<{width}}{'emotion':<10}{'conf':>6}" + "".join(
        f"{e:>9}" for e in classes
    ) + f"{'uncertain':>10}"
    lines = [f"{name}: {len(faces)} face{'s' if len(faces) > 1 else ''}", header]
    for i, (face, box) in enumerate(zip(faces, boxes, strict=True), 1):
        lines.append(
            f"{i:>4}  {box:<{width}}{face.emotion:<10}{face.confidence:>6.2f}"
            + "".join(f"{face.scores[e]:>9.2f}" for e in classes)
            + f"{'yes' if face.uncertain else 'no':>10}"
        )
    return "\n".join(lines) + "\n"


def video_csv_fields(classes: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of ``video --csv`` (and a report's faces.csv) for a model's ``classes``."""
    from realtime_fer.report import frame_face_fields

    return frame_face_fields(classes)


def add_tta_option(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--tta",
        choices=TTA_MODES,
        help="views of each face to average: none, flip (and its mirror image), ten (four "
        f"{TTA_SHIFT}-px shifts too, each mirrored); default: the model's own setting",
    )
    group.add_argument("--no-tta", dest="tta", action="store_const", const="none", help="same as --tta none")


def add_uncertain_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--uncertain-below",
        type=_threshold,
        metavar="P",
        help="call a face 'uncertain' (drawn grey; uncertain: true) when its top probability is below P, "
        "0 to 1: a higher P labels fewer faces, and those it labels more reliably; 0: never (default: "
        "the model's serving.uncertain_below, else never)",
    )


def _threshold(text: str) -> float:
    value = float(text)
    try:
        return check_threshold(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1, not {value}") from None


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0 to 65535, not {value}")
    return value


def _score(text: str) -> float:
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def add_provider_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--provider",
        choices=PROVIDERS,
        default=DEFAULT_PROVIDER,
        help="ONNX Runtime execution provider: auto (the default: an accelerator where the installed "
        "ONNX Runtime offers one, else the CPU), cpu, cuda or tensorrt (pip install onnxruntime-gpu), ...",
    )


def add_detect_every_option(parser: argparse.ArgumentParser, whose: str = "the") -> None:
    parser.add_argument(
        "--detect-every", type=_positive, default=1, metavar="N",
        help=f"detect faces in every N-th of {whose} frames only, classifying them where they were last "
        "seen in between (default 1: every frame): faster where detection is most of a frame's cost, "
        "but a moving face's box lags by up to N-1 frames and a new face waits for the next detection",
    )


def add_detector_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--detector",
        choices=DETECTORS,
        default=DEFAULT_DETECTOR,
        help="face detector: auto (default: centerface, float32 for images, int8 at half size for "
        "video), centerface, blazeface, haar (the cascade as this project ran it before) or "
        "haar-paper (the paper's detectMultiScale(gray, 1.3, 5) on the full frame)",
    )
    parser.add_argument(
        "--min-face", type=_positive, metavar="PX",
        help="smallest face side searched for, in pixels (default: 20 in images, 40 in video): smaller "
        "finds smaller faces, slower (time grows as 1/PX squared) and with more boxes on non-faces",
    )
    parser.add_argument(
        "--threshold", type=_score, metavar="S",
        help="score a face box needs, between 0 and 1 (default: 0.4 centerface, 0.6 blazeface): lower "
        "finds more blurred, turned or covered faces and boxes more things that are not faces",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realtime-fer", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {realtime_fer.__version__}")
    sub = parser.add_subparsers(dest="subcommand", required=True)

    p = sub.add_parser("explore", help="class counts per split (the paper's Table 1) and example grids")
    p.add_argument("data", help="fer2013.csv or a folder with train/ and test/")
    p.add_argument("--out", default="explore", help="folder for the PNGs (default: ./explore)")

    p = sub.add_parser("summary", help="layer table with output shapes and parameter counts")
    p.add_argument("--model", default="paper",
                   help="an architecture (paper, compact, vgg, ...), a shipped model (accurate, ...) or a "
                   "model folder")

    p = sub.add_parser("train", help="train an architecture with its recipe (options override it)")
    p.add_argument("--data", required=True, help="fer2013.csv, a folder with train/ and test/, or FER+ "
                   "(a folder with FER2013Train/..., or fer2013new.csv beside fer2013.csv)")
    p.add_argument("--arch", "--model", dest="arch", metavar="ARCH",
                   help="the architecture whose recipe to run (default: paper; --model, its old name, "
                   "still works)")
    p.add_argument("--out", help="run folder (default: runs/ARCHITECTURE)")
    p.add_argument("--epochs", type=int, help="length of the run")
    p.add_argument("--batch-size", type=int, help="faces per training step (split over torchrun's processes)")
    p.add_argument("--lr", type=float, help="learning rate (the peak rate of onecycle)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="adam is Keras' Adam; sgd: Nesterov momentum 0.9")
    p.add_argument("--weight-decay", type=float, help="L2 (adam, sgd) or decoupled (adamw) decay")
    p.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    p.add_argument("--augment", choices=AUGMENTS, help="batch augmentation")
    p.add_argument("--label-smoothing", type=float, help="label smoothing of the cross-entropy (0: off)")
    p.add_argument("--mixup", type=float, help="mixup Beta(alpha, alpha) parameter (0: off)")
    p.add_argument("--ema", type=float, help="EMA decay of the weights (0: off)")
    p.add_argument("--select", choices=SELECTS, help="export the best validation epoch or the last")
    p.add_argument("--holdout", type=float, help="validate on this stratified fraction of train instead")
    p.add_argument("--teacher", help="distil from these models (names or folders, comma-separated)")
    p.add_argument("--teacher-tta", choices=TTA_MODES, help="the views of each face the teachers average")
    p.add_argument(
        "--teacher-views",
        type=int,
        help="draw this many of those views per face at random (unbiased, cheaper; default 0: all)",
    )
    p.add_argument("--distill-weight", type=float, help="share of the distillation loss, 0-1")
    p.add_argument("--temperature", type=float, help="softmax temperature of distillation")
    p.add_argument("--labels", choices=LABEL_MODES,
                   help="FER+ data: how the ten votes become targets (default: crossentropy)")
    p.add_argument("--init", help="start from this model's weights (a shipped model, model folder or run); "
                   "the output rows of classes it lacks start fresh. Default architecture: the init's")
    p.add_argument("--serve-tta", choices=TTA_MODES, help="the views the exported model is served with "
                   "(default: the architecture's)")
    p.add_argument("--seed", type=int, help="seeds weights, shuffling and augmentation (default 0)")
    p.add_argument("--device", help="auto (the default), cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--train-precision", choices=TRAIN_PRECISIONS,
        help="training arithmetic: bf16 autocast where the hardware has it (auto, the default), or fp32",
    )
    # its old name, still accepted (evaluate's --precision is the served graph, another thing)
    p.add_argument("--precision", dest="train_precision", choices=TRAIN_PRECISIONS, help=argparse.SUPPRESS)
    p.add_argument("--val-split", choices=SPLITS, help="default: public_test if present, else test")
    p.add_argument("--resume", action="store_true", help="continue from RUN/checkpoints/last.pt")
    p.add_argument("--sync-bn", action="store_true", help="torchrun on GPUs: BatchNorm over the global batch")

    p = sub.add_parser("export", help="export a run's selected checkpoint (e.g. after Ctrl-C)")
    p.add_argument("run", help="run folder holding checkpoints/")

    p = sub.add_parser("pair", help="one model of two trained ones: the second classifies the mirror image")
    p.add_argument("first", help="a model folder or shipped model's name: classifies the face")
    p.add_argument("second", help="another of the same architecture: classifies its mirror image")
    p.add_argument("--data", required=True, help="fer2013.csv or a Kaggle root (validation scores it)")
    p.add_argument("--out", required=True, help="the model folder to write")

    p = sub.add_parser("evaluate", help="accuracy, per-class report and confusion matrix via ONNX")
    p.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    p.add_argument("--data", required=True, help="fer2013.csv, a Kaggle root, or a folder of class folders")
    p.add_argument("--split", choices=SPLITS, help="needed for a CSV or a Kaggle root")
    add_tta_option(p)
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="auto",
        help="the served graph, fp32 or int8 (default auto: the faster here, int8 only where its "
        "quantization report shows no real loss)",
    )
    add_provider_option(p)
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")
    p.add_argument("--confusion", help="write the confusion matrix PNG here")
    p.add_argument("--risk-coverage", help="write the risk-coverage curve PNG here (accuracy against the "
                   "share of faces labelled, the least confident set aside first)")
    p.add_argument("--report", help="write the JSON report here")

    p = sub.add_parser("quantize", help="int8 copy of a model (model.int8.onnx) and its accuracy change")
    p.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    p.add_argument("--data", required=True, help="fer2013.csv or a Kaggle root (train calibrates)")
    p.add_argument("--calibration-faces", type=int, default=500, help="training faces to calibrate on")

    p = sub.add_parser("predict", help="label the faces in images (a table, or JSON)")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="image files (any format OpenCV reads), "
                   "folders (searched recursively), globs, or 'demo' (a bundled frame of six faces)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    p.add_argument("--json", action="store_true", help="print a JSON list, one entry per image")
    p.add_argument("--csv", help="write a row per face here: image, face, box, label, confidence, a "
                   "probability per class, uncertain")
    p.add_argument("--out", help="write annotated copies into this folder (same file names)")
    add_tta_option(p)
    add_detector_option(p)
    add_provider_option(p)
    add_uncertain_option(p)

    p = sub.add_parser("video", help="annotate a video (or camera, stream, demo) frame by frame")
    p.add_argument("input", metavar="IN", help="video file, camera index, stream URL or 'demo'")
    p.add_argument("--report", metavar="DIR", help="write a report folder: faces.csv, tracks.csv (a row per "
                   "person), summary.json and timeline.png")
    p.add_argument("--out", help="annotated video to write: .mp4 (H.264 with PyAV, else MPEG-4 Part 2) "
                   "or .avi")
    p.add_argument("--csv", help="per-frame, per-face results to write")
    p.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    add_tta_option(p)
    add_detector_option(p)
    add_provider_option(p)
    add_uncertain_option(p)
    p.add_argument("--no-tracking", action="store_true", help="no track ids, no smoothing")
    add_detect_every_option(p)
    p.add_argument("--max-frames", type=int, help="stop after this many frames")

    p = sub.add_parser("batch", help="analyse many images and videos: a folder per file, an index and "
                       "combined CSVs; run again, it does only what is not done")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="files, folders (searched recursively) or quoted globs ('clips/**/*.mp4')")
    p.add_argument("--out", required=True, help="the batch's folder")
    p.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                   help="processes, each with its own pipeline (default: the cores, here "
                   f"{os.cpu_count() or 1}); with --address the cluster's own workers")
    p.add_argument("--engine", choices=ENGINES, default="local", help="local: processes on this machine; "
                   "dask: the workers of a Dask cluster (the cluster extra; default %(default)s)")
    p.add_argument("--address", metavar="tcp://HOST:PORT", help="--engine dask: a running scheduler "
                   "(default: a local cluster of --workers processes, started and closed here)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    add_tta_option(p)
    add_detector_option(p)
    add_uncertain_option(p)
    add_provider_option(p)

    p = sub.add_parser("serve", help="the web app (your camera, a server-side stream, JSON API)")
    p.add_argument("--source", default=serving_defaults.SOURCE,
                   help="the /stream source: camera index, video, URL or 'demo' (default: %(default)s)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    add_tta_option(p)
    add_detector_option(p)
    add_provider_option(p)
    add_uncertain_option(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=_port, default=5000, help="port to listen on (0: any free port)")
    p.add_argument("--token", help=f"require this bearer token for the API, pages and stream "
                   f"(default: ${TOKEN_ENV}; /healthz stays open)")
    p.add_argument("--allow-origin", help="one other origin allowed to call the API from a browser (CORS)")
    add_detect_every_option(p, "the /stream source's")
    p.add_argument("--max-viewers", type=_positive, default=serving_defaults.STREAM_MAX_VIEWERS,
                   help="stream viewers at once (default %(default)s)")
    p.add_argument("--queue", type=_positive, default=serving_defaults.ANALYSIS_QUEUE,
                   help="uploads that may wait for analysis; beyond: 503 + Retry-After (default %(default)s)")
    return parser


def extra_hint(extra: str) -> str:
    """How to install an extra (``train``, ``cluster``): editable from a source checkout, else from PyPI."""
    if (Path(__file__).resolve().parents[2] / "pyproject.toml").is_file():
        return f'pip install -e ".[{extra}]"'
    return f"pip install 'realtime-fer[{extra}]'"


def missing_train_extra(subcommand: str) -> list[str]:
    """The modules of the train extra that ``subcommand`` needs and cannot import."""
    from importlib.util import find_spec

    return [name for name in TRAIN_EXTRA_MODULES.get(subcommand, ()) if find_spec(name) is None]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    if args.subcommand == "train" and any(arg == "--model" or arg.startswith("--model=") for arg in argv):
        print("realtime-fer train: note: --model is now --arch (it names an architecture; a trained "
              "model is what every other --model names)", file=sys.stderr)
    if getattr(args, "threshold", None) is not None and args.detector.startswith("haar"):
        parser.error(f"--threshold: the {args.detector} detector has no score to threshold")
    if missing := missing_train_extra(args.subcommand):
        print(f"realtime-fer {args.subcommand}: error: {args.subcommand} needs the train extra "
              f"(no {', '.join(missing)}): {extra_hint('train')}", file=sys.stderr)
        return 2
    try:
        return COMMANDS[args.subcommand](args) or 0
    except (DataError, ModelError, SourceError, DetectorError, ProviderError, FileNotFoundError) as error:
        print(f"realtime-fer {args.subcommand}: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `... | head`: the reader left; say nothing, and let exit's flush not fail
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 2


if __name__ == "__main__":
    sys.exit(main())
