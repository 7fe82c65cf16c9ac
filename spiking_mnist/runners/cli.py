"""The ``spiking-mnist`` command: train, evaluate, deploy, pretrained, patches, analyse, params.

Exit codes: 0 success, 2 bad input (data, configuration, run directory, a full disk, a run
another process writes into), 3 backend unavailable; stopped by a signal, 128 + its number:
130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP (training and ``patches`` finish the current
example, write a checkpoint and exit; a second signal stops at once); ``patches --budget``
spent, 130.
"""
from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path

from spiking_mnist.hardware import BACKENDS, BackendError, configure_machine
from spiking_mnist.hardware.spinnaker_config import check_board, check_spalloc
from spiking_mnist.inputs.mnist import DatasetError
from spiking_mnist.models.parameters import ConfigError, load_parameters
from spiking_mnist.rundir.checkpoint import CheckpointError
from spiking_mnist.runners.train import STOP_SIGNALS, Interrupted, TrainingInterrupted

EXIT_BAD_INPUT = 2
EXIT_BACKEND = 3
EXIT_INTERRUPTED = 130      # 128 + SIGINT
EXIT_TERMINATED = 143       # 128 + SIGTERM
EXIT_HANGUP = 129           # 128 + SIGHUP


def exit_code(signum: int | None) -> int:
    """The exit code of a command stopped by signal ``signum`` (130 if None)."""
    return EXIT_INTERRUPTED if signum is None else 128 + int(signum)


def _checked(check):
    """An argparse type: ``check(text)``'s value, or its message (which names the option)."""
    def parse(text: str) -> str:
        try:
            return check(text)
        except BackendError as err:
            raise argparse.ArgumentTypeError(str(err).partition(" ")[2]) from None
    return parse


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", help="directory of the MNIST IDX files (default: "
                   "$SPIKING_MNIST_DATA, the user cache, ../shared/data/mnist, download)")
    p.add_argument("--backend", default="nest", choices=BACKENDS,
                   help="simulator that runs the network (default: nest)")
    p.add_argument("--quiet", action="store_true", help="no progress bars (for log files)")
    g = p.add_argument_group("SpiNNaker machine (with --backend spinnaker; written into "
                             "~/.spynnaker.cfg if there is none, never over an existing one)")
    machine = g.add_mutually_exclusive_group()
    machine.add_argument("--board", metavar="virtual|HOST", type=_checked(check_board),
                         help="`virtual`: map the network and generate its data without a "
                         "board (nothing runs); or the IP address or name of a SpiNN-5 (or "
                         "SpiNN-3) board")
    machine.add_argument("--spalloc", metavar="URL", type=_checked(check_spalloc),
                         help="the http(s) URL of a spalloc server that allocates boards of "
                         "a large machine (credentials in it are never printed)")
    g.add_argument("--board-version", type=int, default=5, choices=(3, 5),
                   help="5: SpiNN-5 (48 chips, default), 3: SpiNN-3 (4 chips)")


def _recording_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("recording (Neo files in RUN_DIR/recordings, see docs/recordings.md)")
    g.add_argument("--record", metavar="POP,...", help="populations to record: input, "
                   "excitatory, inhibitory, or the label of a population a --model network "
                   "adds (default: none)")
    g.add_argument("--record-variables", default="spikes", metavar="VAR,...",
                   help="spikes, v, gsyn_exc, gsyn_inh, theta (default: spikes)")
    g.add_argument("--record-examples", default=None, metavar="SPEC",
                   help="all, every:N, or indices and ranges such as 0-9,15 (default: all; "
                   "every:100 in training)")
    g.add_argument("--record-neurons", default="0-9", metavar="SPEC",
                   help="neurons whose v, gsyn and theta are kept (default: 0-9)")
    g.add_argument("--record-format", default="nix", choices=("nix", "pickle"))
    g.add_argument("--record-chunk", type=int, default=1000, metavar="N",
                   help="recorded examples per file (default: 1000)")


def _recording_plan(args, default_examples: str):
    """The RecordingPlan the --record options ask for, or None."""
    if not args.record:
        return None
    from spiking_mnist.runners.recording import ExampleSelection, RecordingPlan
    neurons = ExampleSelection.parse(args.record_neurons).indices
    if neurons is None:
        raise ConfigError("--record-neurons: give indices and ranges such as 0-9,15")
    return RecordingPlan(
        populations=tuple(args.record.split(",")),
        variables=tuple(args.record_variables.split(",")),
        examples=ExampleSelection.parse(args.record_examples or default_examples),
        neurons=tuple(sorted(neurons)), format=args.record_format, chunk=args.record_chunk)


def _model_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--model", metavar="FILE.py", help=f"{what} a network module of your "
                   "own (see docs/your-own-network.md) instead of D&C's network")


def _digits(text: str) -> list[int]:
    try:
        digits = sorted({int(d) for d in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give digits 0-9 separated by commas")
    if not digits or digits[0] < 0 or digits[-1] > 9:
        raise argparse.ArgumentTypeError(f"{text!r}: digits must be between 0 and 9")
    return digits


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="spiking-mnist", description=__doc__.split("\n")[0])
    sub = top.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a Diehl & Cook network from scratch")
    where = train.add_mutually_exclusive_group(required=True)
    where.add_argument("--run-dir", help="new directory for the checkpoint and results "
                       "(refused if it already holds a run)")
    where.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from "
                       "its last checkpoint (its own parameters; --examples may raise the total)")
    train.add_argument("--config", help="TOML file of parameter values (see `params`)")
    train.add_argument("--set", action="append", default=[], metavar="SECTION.NAME=VALUE",
                       help="override one parameter, e.g. --set network.n_excitatory=400")
    train.add_argument("--examples", type=int, help="training examples (training.examples)")
    train.add_argument("--neurons", type=int, help="excitatory neurons (network.n_excitatory)")
    train.add_argument("--digits", type=_digits, metavar="D,D,...",
                       help="train (and later label and test) on these digits only, e.g. 0,1")
    train.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --run-dir")
    _model_option(train, "train (with --resume: continue the run of)")
    _common(train)
    _recording_options(train)

    ev = sub.add_parser("evaluate", help="label neurons on training data, test, "
                        "write RUN_DIR/metrics.json")
    ev.add_argument("run_dir", nargs="?", help="directory written by `spiking-mnist train`")
    ev.add_argument("--pretrained", metavar="NAME", help="test a pretrained network shipped "
                    "with the package instead (see `spiking-mnist pretrained list`), with the "
                    "neuron labels it ships (--label-examples labels them anew)")
    ev.add_argument("--run-dir", dest="new_run_dir", metavar="DIR", help="with --pretrained: "
                    "the new run directory it is copied into and its metrics written to "
                    "(default: a new one under ~/.cache/spiking-mnist/runs)")
    ev.add_argument("--split", default="test", choices=("test", "validation"))
    ev.add_argument("--examples", type=int, help="test examples (default: all 10,000)")
    ev.add_argument("--label-examples", type=int,
                    help="training examples used to label the neurons")
    ev.add_argument("--set", action="append", default=[], metavar="evaluation.NAME=VALUE",
                    help="override one evaluation parameter, e.g. "
                    "--set evaluation.restart_every=5000")
    _model_option(ev, "test the run of")
    _common(ev)
    _recording_options(ev)

    pt = sub.add_parser("patches", help="train and code the patch hierarchy layer by layer, "
                        "then score its readouts (RUN_DIR/metrics.json); resumes a stopped run")
    pt.add_argument("run_dir", help="directory of the hierarchy run (created if new)")
    pt.add_argument("--config", help="TOML file of parameter values (see `params --model "
                    "patches`)")
    pt.add_argument("--set", action="append", default=[], metavar="SECTION.NAME=VALUE",
                    help="override one parameter, e.g. --set layer1.n_excitatory=16; a "
                    "started run takes only [readout] values")
    pt.add_argument("--budget", type=float, metavar="SECONDS", help="stop at the next "
                    "checkpoint or coded part after this many seconds (run again to continue)")
    _common(pt)

    an = sub.add_parser("analyse", help="figures and a summary of a run from its files, "
                        "in RUN_DIR/analysis (no simulator needed)")
    an.add_argument("run_dir", help="directory written by `spiking-mnist train` (and evaluate) "
                    "or by `spiking-mnist patches`")
    an.add_argument("--out", help="directory for the figures (default: RUN_DIR/analysis)")
    an.add_argument("--example", type=int, default=0, help="index of the recorded example "
                    "drawn in the input, raster and membrane figures (default: 0)")
    an.add_argument("--neurons", metavar="I,J,...", help="excitatory neurons whose membrane "
                    "potential is drawn (default: the most active recorded ones)")
    an.add_argument("--allow-pickle", action="store_true", help="read pickle recordings "
                    "(--record-format pickle) too: only for files you trust, as unpickling "
                    "runs code named in the file (NIX recordings are always read)")
    an.set_defaults(quiet=False)

    dp = sub.add_parser("deploy", help="map a trained network, frozen, on a SpiNNaker "
                        "machine and print what it takes; on a real machine, test it "
                        "(RUN_DIR/metrics-spinnaker.json); a virtual board maps only")
    dp.add_argument("run_dir", nargs="?", help="directory written by `spiking-mnist train` "
                    "or by `spiking-mnist patches` (its classifier: layer 1 and the output "
                    "cells)")
    dp.add_argument("--pretrained", metavar="NAME", help="deploy a pretrained network "
                    "shipped with the package instead (see `spiking-mnist pretrained list`)")
    dp.add_argument("--run-dir", dest="new_run_dir", metavar="DIR", help="with --pretrained: "
                    "the new run directory it is copied into (default: a new one under "
                    "~/.cache/spiking-mnist/runs)")
    dp.add_argument("--examples", type=int, help="on a real machine: test images (default: "
                    "all 10,000)")
    dp.add_argument("--label-examples", type=int, help="on a real machine: training images "
                    "the neurons are labelled on, on the board (default: a pretrained "
                    "network's shipped labels; a run's evaluation.label_examples)")
    dp.add_argument("--twin", action="store_true", help="a patch-hierarchy run: also code "
                    "its validation and test images again on NEST with the weights the "
                    "board holds, and score that quantised twin's spiking readout")
    dp.add_argument("--data-dir", help="directory of the MNIST IDX files")
    dp.add_argument("--quiet", action="store_true", help="no progress bars")
    _model_option(dp, "map the run of")
    target = dp.add_argument_group("SpiNNaker machine (written into ~/.spynnaker.cfg if "
                                   "there is none, never over an existing one)")
    machine = target.add_mutually_exclusive_group(required=True)
    machine.add_argument("--board", metavar="virtual|HOST", type=_checked(check_board),
                         help="`virtual`: map without a board and stop (exit 0); or the IP "
                         "address or name of a SpiNN-5 (or SpiNN-3) board")
    machine.add_argument("--spalloc", metavar="URL", type=_checked(check_spalloc),
                         help="the http(s) URL of a spalloc server")
    target.add_argument("--board-version", type=int, default=5, choices=(3, 5),
                        help="5: SpiNN-5 (48 chips, default), 3: SpiNN-3 (4 chips)")

    pr = sub.add_parser("pretrained", help="pretrained networks: list them, copy one into a "
                        "run directory, export a trained run as one")
    actions = pr.add_subparsers(dest="action", required=True)
    actions.add_parser("list", help="the pretrained networks, how each was trained and its "
                       "accuracy").set_defaults(quiet=False)
    cp = actions.add_parser("copy", help="make a new run directory of a pretrained network "
                            "(test it with `evaluate`, train it further with `train "
                            "--resume`)")
    cp.add_argument("name")
    cp.add_argument("run_dir")
    cp.set_defaults(quiet=False)
    ex = actions.add_parser("export", help="export a trained run as a pretrained network: "
                            "label its neurons on training images, test it, write "
                            "spiking_mnist/pretrained/NAME")
    ex.add_argument("run_dir", help="directory written by `spiking-mnist train`")
    ex.add_argument("name", help="the network's name, e.g. n400")
    ex.add_argument("--label-examples", type=int, default=10000, help="training images the "
                    "neurons are labelled on (default: 10,000)")
    ex.add_argument("--test-examples", type=int, help="test images its accuracy is measured "
                    "on with those labels (default: all 10,000; 0: not measured)")
    ex.add_argument("--into", metavar="DIR", help="directory of pretrained networks to write "
                    "into (default: the package's spiking_mnist/pretrained)")
    ex.add_argument("--command", dest="trained_with", metavar="TEXT", help="the command that "
                    "trained the run, for the record (default: rebuilt from its parameters)")
    ex.add_argument("--threads", type=int, help="NEST threads that label and test it "
                    "(default: the run's own; `evaluate --pretrained` tests on as many)")
    ex.add_argument("--overwrite", action="store_true", help="replace a pretrained network "
                    "of that name")
    ex.add_argument("--data-dir", help="directory of the MNIST IDX files")
    ex.add_argument("--quiet", action="store_true", help="no progress bars")

    params = sub.add_parser("params", help="list every parameter with unit and meaning")
    params.add_argument("--model", default="diehl_cook", metavar="diehl_cook|patches|FILE.py",
                        help="the network whose parameters are listed (default: diehl_cook)")
    params.add_argument("--config")
    params.add_argument("--set", action="append", default=[], metavar="SECTION.NAME=VALUE")
    return top


def _prepare_machine(args) -> None:
    """Point sPyNNaker at the machine asked for; tell the user what that took."""
    done = configure_machine(args.backend, args.board, args.spalloc, args.board_version)
    if done:
        print(f"spiking-mnist: {done}", file=sys.stderr)


def _train(args) -> int:
    from spiking_mnist.models.network import load_model
    from spiking_mnist.runners.train import resume, train
    model = load_model(args.model)
    _prepare_machine(args)
    if args.resume:
        if args.set or args.config or args.neurons or args.digits or args.overwrite:
            raise ConfigError("--resume continues a run with its own parameters; only "
                              "--examples (a larger total), --model (the run's own), "
                              "--data-dir and --quiet apply")
        ckpt = resume(args.resume, args.backend, args.data_dir, not args.quiet, args.examples,
                      _recording_plan(args, "every:100"), model=model)
        print(f"trained {ckpt.examples_seen} examples; checkpoint in {args.resume}/checkpoint")
        return 0
    overrides = list(args.set)
    if args.examples is not None:
        overrides.append(f"training.examples={args.examples}")
    if args.neurons is not None:
        overrides.append(f"network.n_excitatory={args.neurons}")
    params = load_parameters("diehl_cook", args.config, overrides, base=model.defaults())
    ckpt = train(args.run_dir, params, args.backend, args.data_dir, progress=not args.quiet,
                 digits=args.digits, overwrite=args.overwrite,
                 recording=_recording_plan(args, "every:100"), model=model)
    rate = ckpt.info.get("train_examples_per_second")
    print(f"trained {ckpt.examples_seen} examples"
          + ("" if rate is None else f" at {rate:.2f} examples/s")
          + f"; checkpoint in {args.run_dir}/checkpoint")
    return 0


def _evaluate(args) -> int:
    from spiking_mnist.models.network import load_model
    from spiking_mnist.runners.evaluate import evaluate
    if args.pretrained is not None or args.new_run_dir is not None:
        if args.model is not None:
            raise ConfigError("--model goes with a run directory; a pretrained network is "
                              "D&C's network")
        return _evaluate_pretrained(args)
    model = load_model(args.model)
    if args.run_dir is None:
        raise ConfigError("give the run directory to evaluate, or --pretrained NAME")
    _prepare_machine(args)
    if args.examples is not None and args.examples <= 0:
        raise ConfigError("--examples must be positive")
    if args.label_examples is not None and args.label_examples <= 0:
        raise ConfigError("--label-examples must be positive")
    m = evaluate(args.run_dir, args.split, args.examples, args.label_examples, args.backend,
                 args.data_dir, progress=not args.quiet,
                 recording=_recording_plan(args, "all"), overrides=args.set, model=model)
    print(f"{m['split']} accuracy: {100 * m['accuracy']:.2f} % on {m['examples']} examples "
          f"(N={m['n_excitatory']}, {m['examples_trained']} training examples, neurons "
          f"labelled on {m['label_examples']})")
    print(f"{m['split']} accuracy read by the Poisson likelihood of the responses: "
          f"{100 * m['likelihood']['accuracy']:.2f} % (docs/results.md)")
    print(per_class_table(m))
    return 0


def _evaluate_pretrained(args) -> int:
    from spiking_mnist.runners import pretrained
    if args.pretrained is None:
        raise ConfigError("--run-dir goes with --pretrained NAME; evaluate a run with "
                          "`spiking-mnist evaluate RUN_DIR`")
    if args.run_dir is not None:
        raise ConfigError(f"--pretrained tests a shipped network: give the new directory it "
                          f"is copied into with --run-dir {args.run_dir}, or leave out "
                          "--pretrained to evaluate that run")
    if args.record:
        raise ConfigError("--record: copy the network first (`spiking-mnist pretrained copy "
                          f"{args.pretrained} RUN_DIR`), then `spiking-mnist evaluate RUN_DIR "
                          "--record ...`")
    _prepare_machine(args)
    for option in ("examples", "label_examples"):
        if getattr(args, option) is not None and getattr(args, option) <= 0:
            raise ConfigError(f"--{option.replace('_', '-')} must be positive")
    m = pretrained.evaluate(args.pretrained, args.new_run_dir, args.split, args.examples,
                            args.label_examples, args.backend, args.data_dir,
                            not args.quiet, args.set)
    print(f"{m['split']} accuracy: {100 * m['accuracy']:.2f} % on {m['examples']} examples "
          f"(pretrained {args.pretrained}: N={m['n_excitatory']}, {m['examples_trained']} "
          f"training examples, neurons labelled on {m['label_examples']})")
    print(per_class_table(m))
    print(f"metrics in {m['run_dir']}/" + ("metrics.json" if m["split"] == "test"
                                            else f"metrics-{m['split']}.json"))
    return 0


def _deploy(args) -> int:
    from spiking_mnist.models.network import load_model
    from spiking_mnist.runners import deploy
    if (args.run_dir is None) == (args.pretrained is None):
        raise ConfigError("give either a run directory or --pretrained NAME")
    if args.model is not None and args.pretrained is not None:
        raise ConfigError("--model goes with a run directory; a pretrained network is "
                          "D&C's network")
    model = load_model(args.model)
    if args.new_run_dir is not None and args.pretrained is None:
        raise ConfigError("--run-dir goes with --pretrained NAME; deploy a run with "
                          "`spiking-mnist deploy RUN_DIR`")
    for option in ("examples", "label_examples"):
        if getattr(args, option) is not None and getattr(args, option) <= 0:
            raise ConfigError(f"--{option.replace('_', '-')} must be positive")
    from spiking_mnist.rundir.hierarchy import parameters_saved
    if args.run_dir is not None and parameters_saved(Path(args.run_dir)):
        return _deploy_hierarchy(args)
    if args.twin:
        raise ConfigError("--twin goes with a patch-hierarchy run (`spiking-mnist patches`); "
                          "for a D&C run, `python benchmarks/deployment_cost.py` measures "
                          "the board's weights on NEST")
    r = deploy.deploy(args.run_dir or args.new_run_dir, args.pretrained, args.board,
                      args.spalloc, args.board_version, args.examples, args.label_examples,
                      args.data_dir, not args.quiet, model=model)
    print(deploy.report(r))
    if r["virtual"]:
        print(f"virtual board: mapped, nothing runs (no spikes, no accuracy); mapping in "
              f"{r['run_dir']}/{deploy.RESULTS}")
        return 0
    m = r["metrics"]
    print(f"test accuracy on SpiNNaker: {100 * m['accuracy']:.2f} % on {m['examples']} "
          f"examples ({r['labels']})")
    print(per_class_table(m))
    print(f"metrics in {r['run_dir']}/{deploy.RESULTS}")
    return 0


def _deploy_hierarchy(args) -> int:
    from spiking_mnist.runners import hierarchy_board
    unused = [f"--{o.replace('_', '-')}" for o in ("examples", "label_examples", "model")
              if getattr(args, o) is not None]
    if unused:
        raise ConfigError(f"{', '.join(unused)}: not for a patch-hierarchy run, whose "
                          "images and labels are the run's own")
    from spiking_mnist.runners.hierarchy import Stopped
    try:
        r = hierarchy_board.deploy(Path(args.run_dir), args.board, args.spalloc,
                                   args.board_version, args.twin, args.data_dir,
                                   not args.quiet)
    except Stopped as err:     # a stop signal while the twin codes: its parts are kept
        print(f"spiking-mnist: stopped: {err}; continue with `spiking-mnist deploy "
              f"{args.run_dir} --board virtual --twin`", file=sys.stderr)
        return exit_code(err.signum)
    print(hierarchy_board.report(r))
    if not r["virtual"]:
        print("mapped on the machine; its test images are not run on the board yet "
              "(--twin scores the board's weights on NEST)")
    print(f"figures in {r['run_dir']}/{hierarchy_board.RESULTS}")
    return 0


def _pretrained(args) -> int:
    from spiking_mnist.rundir import pretrained as folders
    from spiking_mnist.runners import pretrained
    if args.action == "list":
        networks = folders.known()
        if not networks:
            print("no pretrained networks installed (looked in "
                  + ", ".join(map(str, folders.search_path())) + ")")
        for name in networks:
            print(pretrained.summary(folders.load(name)))
        return 0
    if args.action == "copy":
        ckpt = pretrained.copy(args.name, args.run_dir)
        print(f"copied the pretrained network {args.name} ({ckpt.examples_seen} training "
              f"examples) into {args.run_dir}: test it with `spiking-mnist evaluate "
              f"{args.run_dir}`, train it further with `spiking-mnist train --resume "
              f"{args.run_dir} --examples N`")
        return 0
    for option in ("label_examples", "test_examples", "threads"):
        value = getattr(args, option)
        if value is not None and value < (0 if option == "test_examples" else 1):
            raise ConfigError(f"--{option.replace('_', '-')} must be "
                              + ("0 or more" if option == "test_examples" else "positive"))
    network = pretrained.export(args.run_dir, args.name, args.label_examples,
                                args.test_examples, args.into, args.trained_with,
                                data_dir=args.data_dir, progress=not args.quiet,
                                overwrite=args.overwrite, threads=args.threads)
    print(f"exported {args.run_dir} as the pretrained network {args.name} into "
          f"{network.folder}")
    print(pretrained.summary(network))
    return 0


def per_class_table(metrics: dict) -> str:
    """Per digit: images tested, accuracy and neurons labelled with it, aligned."""
    rows = ["digit  images  accuracy  neurons"]
    for digit, (row, accuracy, neurons) in enumerate(zip(
            metrics["confusion"], metrics["per_class_accuracy"],
            metrics["neurons_per_class"])):
        if sum(row):
            rows.append(f"{digit:>5}  {sum(row):>6}  {100 * accuracy:>6.1f} %  {neurons:>7}")
    return "\n".join(rows)


def _patches(args) -> int:
    from spiking_mnist.models.output_layer import METHODS
    from spiking_mnist.models.patches import MODEL
    from spiking_mnist.rundir.hierarchy import parameters_of, parameters_saved
    from spiking_mnist.runners import hierarchy
    _prepare_machine(args)
    if args.backend != "nest":
        raise ConfigError("the patch hierarchy learns and codes on NEST only (--backend nest)")
    started = parameters_saved(args.run_dir)
    params = load_parameters(MODEL, args.config, args.set,
                             base=parameters_of(args.run_dir) if started else None)
    try:
        m = hierarchy.run(Path(args.run_dir), params, args.backend, args.data_dir,
                          not args.quiet, args.budget)
    except hierarchy.Stopped as err:
        print(f"spiking-mnist: stopped: {err}; continue with `spiking-mnist patches "
              f"{args.run_dir}`", file=sys.stderr)
        return exit_code(err.signum)
    for split, n in m["examples"].items():
        if split != "train":
            print(f"{split} ({n} images): label vote {100 * m['vote'][split]['accuracy']:.2f} %"
                  + "".join(f", linear {name} {100 * acc[split]:.2f} %"
                            for name, acc in m["linear"].items()))
            spiking = m["spiking"]
            print(f"{split}, spiking readout on NEST (layer 1 -> output cells): "
                  + ", ".join(f"{method} {100 * spiking[method][split]['accuracy']:.2f} % "
                              f"({100 * spiking[method][split]['agreement']:.1f} % as its "
                              "offline readout)"
                              for method in METHODS))
    print(f"synapses: {m['synapses']['total']:,} (output cells: {m['spiking']['synapses']:,});"
          f" metrics in {args.run_dir}/metrics.json")
    return 0


def _analyse(args) -> int:
    from spiking_mnist.analysis import patches
    from spiking_mnist.analysis.report import analyse, check_out_dir
    if args.out is not None:
        check_out_dir(args.run_dir, args.out)
    if patches.is_hierarchy(args.run_dir):
        summary = patches.analyse(args.run_dir, args.out, args.example)
        print(f"figures in {summary['out_dir']}: " + ", ".join(summary["figures"].values()))
        for name, reason in summary["skipped"].items():
            print(f"skipped {name}: {reason}")
        return 0
    try:
        neurons = None if args.neurons is None else [int(k) for k in args.neurons.split(",")]
    except ValueError:
        raise ConfigError(f"--neurons {args.neurons!r}: give excitatory neuron indices "
                          "separated by commas, e.g. 0,1,2") from None
    summary = analyse(args.run_dir, args.out, args.example, neurons, args.allow_pickle)
    print(f"figures and metrics.json in {summary['out_dir']}: "
          + ", ".join(summary["figures"].values()))
    for name, reason in summary["skipped"].items():
        print(f"skipped {name}: {reason}")
    return 0


def _params(args) -> int:
    if args.model in ("diehl_cook", "patches"):
        print(load_parameters(args.model, args.config, args.set).table())
        return 0
    if not args.model.endswith(".py"):
        raise ConfigError(f"--model {args.model}: give diehl_cook, patches or the .py file "
                          "of a network module")
    from spiking_mnist.models.network import load_model
    model = load_model(args.model)
    print(load_parameters(model.name, args.config, args.set, base=model.defaults()).table())
    return 0


def _stop_at_once(signum, frame):
    raise Interrupted(signum)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.command == "params" or args.quiet
                        else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # SIGTERM and SIGHUP stop any command as Ctrl-C does: files and locks are left in order
    # (training loops listen to them themselves, see train.StopOnInterrupt)
    previous = {s: signal.signal(s, _stop_at_once) for s in STOP_SIGNALS
                if s != signal.SIGINT and signal.getsignal(s) == signal.SIG_DFL
                and threading.current_thread() is threading.main_thread()}
    try:
        return _command(args)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _command(args) -> int:
    try:
        if args.command == "train":
            return _train(args)
        if args.command == "evaluate":
            return _evaluate(args)
        if args.command == "analyse":
            return _analyse(args)
        if args.command == "patches":
            return _patches(args)
        if args.command == "deploy":
            return _deploy(args)
        if args.command == "pretrained":
            return _pretrained(args)
        return _params(args)
    except (ConfigError, DatasetError, CheckpointError) as err:
        print(f"spiking-mnist: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BackendError as err:
        print(f"spiking-mnist: error: {err}", file=sys.stderr)
        return EXIT_BACKEND
    except TrainingInterrupted as err:
        print(f"spiking-mnist: interrupted: {err}", file=sys.stderr)
        return exit_code(err.signum)
    except KeyboardInterrupt as err:
        signum = getattr(err, "signum", signal.SIGINT)
        print(f"spiking-mnist: interrupted ({signal.Signals(signum).name})", file=sys.stderr)
        return exit_code(signum)


if __name__ == "__main__":
    sys.exit(main())
