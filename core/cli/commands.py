"""The headless commands. Each prints progress lines and returns an exit code (see core.cli)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import EXIT_OK, EXIT_PARTIAL
from core.cli.arguments import train_config
from core.durations import format_duration
from core.errors import ConfigError
from core.io.atomic import prepare_output_folder


def _number(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _headline(summary: dict) -> str:
    return (f"mIoU {_number(summary['mean_iou'])}, mean Dice {_number(summary['mean_dice'])}, "
            f"pixel accuracy {_number(summary['pixel_accuracy'])}")


def train(args: argparse.Namespace) -> int:
    """Alone, or as one process of a torchrun job (then only the first process prints)."""
    from core.training.distributed import join_from_environment

    processes = join_from_environment(args.device)
    try:
        with processes.printing():
            code = _train(args, processes)
        processes.barrier()  # no process leaves while another still writes the model file
        return code
    finally:
        processes.close()


def _train(args: argparse.Namespace, processes) -> int:
    from core.training.loop import Trainer
    from core.training.reports import EpochReport, TrainingFinished, TrainingStarted

    if processes.world_size > 1 and not args.out:
        raise ConfigError("under torchrun give --out MODEL, so that every process trains the same model file")
    config, index = train_config(args)
    if not args.out:
        print(f"model file: {config.output} (choose another with --out)")
    trainer = Trainer(config, index=index, processes=processes)
    skipped = ()
    try:
        for report in trainer.run():
            if isinstance(report, TrainingStarted):
                print(f"device: {report.device}" + (f" - note: {report.device_note}" if report.device_note else ""))
                if processes.world_size > 1:
                    print(f"processes: {processes.world_size} (torchrun, {processes.backend}), each with batch "
                          f"size {trainer.config.batch_size}")
                print(f"data: {len(report.train_images)} training and {len(report.val_images)} validation images, "
                      f"classes: {', '.join(report.class_names)}")
                print(f"model: {report.parameters / 1e6:.1f} M parameters, {report.weights_note}")
                print(f"precision: {report.precision}")
                if report.minutes is not None:
                    print(f"time budget: {report.minutes:.3g} minutes of training")
                skipped = report.skipped
                for problem in skipped:
                    print(f"skipped: {problem}", file=sys.stderr)
            elif isinstance(report, EpochReport):
                print(f"epoch {report.epoch}/{report.epochs}  train loss {report.train_loss:.4f}  "
                      f"val loss {_number(report.val_loss, 4)}  val mIoU {_number(report.mean_iou)}  "
                      f"{report.images_per_s:.1f} patches/s  {format_duration(report.seconds)}  "
                      f"left {format_duration(report.eta_s)}  at {format_duration(report.elapsed_s or 0)}"
                      + ("  (best)" if report.is_best else ""), flush=True)
            elif isinstance(report, TrainingFinished):
                print(report.describe())
                return EXIT_OK if report.model_path and not skipped else EXIT_PARTIAL
    except KeyboardInterrupt:
        print(f"interrupted; resume with the same command and --resume "
              f"(checkpoint: {trainer.config.checkpoint_path})", file=sys.stderr)
        raise
    return EXIT_OK


def _predict_options(args: argparse.Namespace, on_workers: bool = False):
    """The prediction options; on_workers keeps --device as given, for each Dask worker to resolve."""
    from core.device import select_device
    from core.inference import PredictOptions

    device = args.device if on_workers else select_device(args.device).torch_device
    return PredictOptions(tile_size=args.tile, overlap=args.overlap, batch_size=args.batch_size, tta=args.tta,
                          device=device, backend=args.backend, precision=args.precision)


def _print_progress(done: int, total: int, eta: float) -> None:
    print(f"\r{done}/{total} images, {format_duration(eta)} left   ", end="\n" if done == total else "",
          file=sys.stderr, flush=True)


def _report_failures(failures, warnings=()) -> int:
    for path, message in warnings:
        print(f"warning: {path}: {message}", file=sys.stderr)
    for path, message in failures:
        print(f"could not process {path}: {message}", file=sys.stderr)
    return EXIT_PARTIAL if failures else EXIT_OK


def predict(args: argparse.Namespace) -> int:
    from core.bioimageio.importing import load_predictor
    from core.inference import predict_folder

    if not Path(args.input_dir).is_dir():
        raise ConfigError("the input folder does not exist", args.input_dir)
    prepare_output_folder(args.output_dir)
    if args.dask is not None or args.workers is not None:
        if args.uncertainty:
            raise ConfigError("--uncertainty is not available with --dask or --workers; predict without them "
                              "to write uncertainty maps")
        result = _predict_on_dask(args)
        reason = f"{result.backend_reason} on {result.workers} Dask worker(s)"
    else:
        predictor = load_predictor(args.model, _predict_options(args))
        result = predict_folder(predictor, args.input_dir, args.output_dir, progress=_print_progress,
                                channel=args.channel, uncertainty=args.uncertainty,
                                on_phase=lambda text: print(text, file=sys.stderr, flush=True))
        reason = predictor.backend_reason
    print(f"\nprediction: {reason}")
    print(f"wrote {len(result.written)} masks to {args.output_dir} in {format_duration(result.seconds)} "
          f"({result.images_per_s:.2f} images/s)")
    if result.scores:
        print(f"uncertainty maps in {Path(args.output_dir) / 'uncertainty'}, scores in "
              f"{Path(args.output_dir) / 'uncertainty.csv'}")
    return _report_failures(result.failures, result.warnings)


def _predict_on_dask(args: argparse.Namespace):
    """The folder predicted by the workers of the scheduler at --dask, or of a local cluster of --workers."""
    from core.bioimageio.importing import load_predictor
    from core.inference.distributed_predict import dask_client, predict_folder_on_dask

    with dask_client(args.dask, args.workers) as client:
        return predict_folder_on_dask(client, args.model, args.input_dir, args.output_dir,
                                      _predict_options(args, on_workers=True), progress=_print_progress,
                                      channel=args.channel, loader=load_predictor)


def evaluate(args: argparse.Namespace) -> int:
    from core.evaluation import evaluate_model
    from core.inference import Predictor
    from core.report import read_metric_report, write_metric_report
    from core.report_html import (
        HTML_REPORT,
        PredictionKeeper,
        dataset_loader,
        image_panels,
        write_html_report,
    )

    prepare_output_folder(args.report)
    predictor = Predictor.from_file(args.model, _predict_options(args))
    keeper = PredictionKeeper() if args.html else None
    evaluation = evaluate_model(predictor, args.model, args.data_dir, progress=_print_progress, on_result=keeper,
                                include_training=args.include_training)
    files = write_metric_report(args.report, evaluation.results, evaluation.classes, evaluation.meta)
    if keeper is not None:
        report = read_metric_report(args.report)
        panels = image_panels(report, dataset_loader(args.data_dir, keeper.load))
        files.append(write_html_report(Path(args.report) / HTML_REPORT, report, panels, evaluation.failures,
                                       evaluation.warnings))
    print("\n" + evaluation.describe_scope("use --include-training to score them too"))
    held_out, summary = evaluation.held_out_summary(), evaluation.dataset_summary()
    both = held_out is not None and any(result.trained_on for result in evaluation.results)
    if both:
        print(f"images never trained on: {_headline(held_out)}")
    print(f"{'all ' if both else ''}{len(evaluation.results)} images: {_headline(summary)}")
    for row in summary["per_class"]:
        print(f"  {row['name']}: IoU {_number(row['iou'])}  Dice {_number(row['dice'])}")
    print("report: " + ", ".join(str(f) for f in files))
    return _report_failures(evaluation.failures, evaluation.warnings)
