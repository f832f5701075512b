"""Command line: python -m engine {train,validate,defaults} ... (see --help)."""
from __future__ import annotations

import argparse
import functools
import json
import math
import sys
import time
from pathlib import Path

from .core.config import ConfigError
from .core.device import DEVICE_CHOICES, pick_device, use_one_cpu_thread


def _load_config(path: str):
    """The config of whichever task the file names ("task" key; classify2d when absent)."""
    from .tasks import config_from_json
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    return config_from_json(text)


def finite_or_null(value):
    """The same plain data with every non-finite float (inf, -inf, NaN) replaced by None.
    json.dumps would write them as Infinity / NaN, which are not JSON: strict parsers
    (JavaScript's JSON.parse, jq, Go, Rust) reject the whole line."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_or_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_null(v) for v in value]
    return value


def json_line(record: dict) -> str:
    """One line of strict JSON; allow_nan=False makes a missed non-finite number an error, not bad output."""
    return json.dumps(finite_or_null(record), allow_nan=False) + "\n"


def _cmd_train(args) -> int:
    config = _load_config(args.config)
    # `python -m engine` imports the engine package first, and engine/__init__.py imports
    # torch (through the trainer), so torch is already loaded here, for every command.
    from .tasks import make_trainer
    use_one_cpu_thread()
    trainer = make_trainer(config, pick_device(args.device))
    out = open(args.out, "w") if args.out else sys.stdout
    start = time.perf_counter()
    try:
        done = 0
        while done < args.steps:
            n = min(args.every, args.steps - done)
            snap = trainer.step(n)
            done += n
            out.write(json_line(snap.to_json_dict()))
            out.flush()
            if snap.diverged or snap.finished:
                break
        out.write(json_line({"done": True, "steps": trainer.step_count, "seconds": round(time.perf_counter() - start, 4),
                             "device": trainer.device.type, "diverged": trainer.diverged}))
    finally:
        if args.out:
            out.close()
    return 0


def _cmd_validate(args) -> int:
    config = _load_config(args.config)
    print(json.dumps({"valid": True, "config": config.to_dict()}))
    return 0


def _cmd_defaults(args) -> int:
    from .tasks import default_config
    print(json.dumps(default_config(args.task).to_dict(), indent=2))
    return 0


def _cmd_export(args) -> int:
    from .export import export
    config = _load_config(args.config)
    text = export(config, args.format, steps=args.steps)
    if args.out:
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def _cmd_attention(args) -> int:
    """One JSON object: the model, the tokens, and attentions (layers x heads x T x T)."""
    from .attention.self_attention import TextError, run_encoder
    from .core.pretrained import load_minilm
    if not args.text.strip():
        raise TextError("--text is empty: give a sentence")
    use_one_cpu_thread()
    tokenizer, model = load_minilm()
    run = run_encoder(tokenizer, model, args.text, args.text_pair)
    # check_attentions already refused NaN/inf, so no finite_or_null walk over T² x 72 numbers
    sys.stdout.write(json.dumps(run.to_json_dict(), allow_nan=False) + "\n")
    return 0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


@functools.lru_cache(maxsize=1)  # built once per process: in-process callers (tests) call main() many times
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="Neural Playground engine: train and inspect networks from the command line.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a config; one JSON snapshot per line, then a {\"done\": true, ...} line")
    p.add_argument("config", help="config JSON file ('-' reads standard input)")
    p.add_argument("--steps", type=_positive, default=1000, help="optimisation steps to run (default 1000)")
    p.add_argument("--every", type=_positive, default=100, help="write a snapshot every K steps (default 100)")
    p.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="auto picks cuda, then mps, then cpu")
    p.add_argument("--out", help="write the JSON lines to this file instead of standard output")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("validate", help="check a config; prints it with defaults filled in, or exits 2 naming the bad field")
    p.add_argument("config", help="config JSON file ('-' reads standard input)")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("defaults", help="print the default config as JSON")
    p.add_argument("--task", default="classify2d", help="the task whose defaults to print (default classify2d)")
    p.set_defaults(func=_cmd_defaults)

    p = sub.add_parser("export", help="write a standalone PyTorch script (or a Jupyter notebook) that reproduces "
                                      "a config's training run, for any task")
    p.add_argument("config", help="config JSON file ('-' reads standard input)")
    p.add_argument("--format", choices=["py", "ipynb"], default="py",
                   help="py: a script (default); ipynb: a notebook that explains each step and draws the page's main plot")
    p.add_argument("--steps", type=_positive, default=1000, help="optimisation steps the script runs (default 1000)")
    p.add_argument("--out", help="write the script or notebook to this file instead of standard output")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("attention", help="attention of all-MiniLM-L6-v2 on a text, as one JSON object "
                                         "{model, tokens, attentions: layers x heads x T x T}")
    p.add_argument("--text", required=True, help="the sentence (at most 512 tokens with [CLS] and [SEP])")
    p.add_argument("--text-pair", default=None, help="an optional second sentence: [CLS] text [SEP] pair [SEP]")
    p.set_defaults(func=_cmd_attention)

    p = sub.add_parser("zoo", help="the architecture map as one JSON object: each node's key, name, family, whether "
                                   "the app builds it, the page and the task that train it; and the edges")
    p.add_argument("--pretty", action="store_true", help="indent the JSON")
    p.set_defaults(func=_cmd_zoo)
    return parser


def _cmd_zoo(args) -> int:
    from .zoo.chart import map_as_data
    print(json.dumps(map_as_data(), indent=2 if args.pretty else None))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"invalid config: {e}", file=sys.stderr)
        return 2
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
