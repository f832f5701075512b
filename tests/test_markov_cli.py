"""The markov task through the command line, as a user runs it: `python -m engine train` in a
subprocess prints one strict JSON line per snapshot with the step and the held-out bits per
character, stops once the text is read, and ends with the "done" line; `defaults --task markov`
and `validate` through the CLI's entry point in this process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from engine.__main__ import main as cli_main
from engine.sequence.markov import MarkovConfig

ROOT = Path(__file__).resolve().parents[1]
TEXT = "the cat sat on the mat and the dog sat on the log. " * 30  # 1,530 characters


def _strict_json(line: str):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(line, parse_constant=refuse)


def test_train_prints_json_lines_with_the_held_out_bits_per_char_until_the_text_is_read(tmp_path):
    config = {"task": "markov", "corpus": "text", "text": TEXT, "context": 8, "order": 2, "chunk_chars": 200}
    (tmp_path / "markov.json").write_text(json.dumps(config))
    proc = subprocess.run([sys.executable, "-m", "engine", "train", str(tmp_path / "markov.json"), "--steps", "100",
                           "--every", "2", "--device", "cpu"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = [_strict_json(line) for line in proc.stdout.splitlines()]
    *snaps, done = lines
    train_chars = snaps[0]["train_chars"]
    chunks = -(-train_chars // 200)  # the last one reads what is left
    assert [s["step"] for s in snaps] == sorted({*range(2, chunks + 1, 2), chunks})
    assert all(s["order"] == 2 and 0 < s["test_bits_per_char"] < 8 for s in snaps)
    assert [s["train_chars_seen"] for s in snaps[:2]] == [400, 800] and snaps[-1]["train_chars_seen"] == train_chars
    assert snaps[-1]["finished"] and not any(s["finished"] for s in snaps[:-1])
    assert snaps[-1]["test_bits_per_char"] < snaps[0]["test_bits_per_char"]
    assert done["done"] is True and done["steps"] == snaps[-1]["step"] and done["device"] == "cpu"


def test_defaults_and_validate(tmp_path, capsys):
    assert cli_main(["defaults", "--task", "markov"]) == 0
    assert MarkovConfig.from_dict(json.loads(capsys.readouterr().out)) == MarkovConfig()
    (tmp_path / "ok.json").write_text(json.dumps({"task": "markov", "order": 5}))
    assert cli_main(["validate", str(tmp_path / "ok.json")]) == 0
    assert json.loads(capsys.readouterr().out)["config"] == MarkovConfig(order=5).to_dict()
    (tmp_path / "bad.json").write_text(json.dumps({"task": "markov", "order": 9}))
    assert cli_main(["validate", str(tmp_path / "bad.json")]) == 2
    assert capsys.readouterr().err.startswith("invalid config: order: order (characters of context) must be 1..5")
