"""Take it home: the Neural Turing machine page's run as notebook pieces (engine/core/take_home.py makes the files).

The notebook inlines the engine's own copy task, addressing functions and both models (source_of),
draws the initial weights, the training batches and the fixed evaluation sequences from generators
seeded as NTMTrainer seeds them, in the same order, and trains the NTM and the LSTM side by side on
the same batches. Each report prints both models' loss and bit error on the evaluation sequences,
equal to the trainer's snapshot at that step; the last cells draw the curves and the heads' weightings
on one copy example (the one the page shows).
"""
from __future__ import annotations

from dataclasses import asdict

from ..core.registries import make_optimizer
from ..core.take_home import DARK, ORANGE, SHOW_SOURCE, Piece, check_steps, code, config_json_lines, markdown, source_of
from . import copy_task, model, trainer
from .config import NTMConfig

REPORTS = 20   # evaluation runs both models over every training length: a report every steps // REPORTS


def pieces(config: NTMConfig, steps: int) -> list[Piece]:
    if not isinstance(config, NTMConfig):
        raise ValueError(f"this exporter takes an NTMConfig, got {type(config).__name__}")
    check_steps(steps)
    d, m, t = config.data, config.model, config.train
    return [
        markdown("intro", "# A neural Turing machine, taken home", "",
                 f"The Neural Turing machine page's run: an LSTM controller of {m.controller} units with one read "
                 f"head and one write head on a memory of {m.memory_slots} × {m.memory_width} numbers, and beside it "
                 "a plain LSTM with about as many parameters, trained side by side on the same batches of the copy "
                 f"task: {d.min_length} to {d.max_length} random vectors of {d.bits} bits, a delimiter, then the "
                 "same vectors asked back. The LSTM must hold the sequence in its hidden state; the NTM can write it "
                 "to memory and read it back in order.", "",
                 "It trains both for `STEPS` steps and prints their loss and share of wrong bits on fixed evaluation "
                 "sequences every `EVERY` steps. It needs torch, numpy and plotly, all in the app's requirements.txt; "
                 "nothing is downloaded. It runs on the CPU with the page's seeds, so it prints the numbers the page "
                 "shows for this config.", "",
                 "The config, to paste back into the app:", "", "```json", *config_json_lines(config), "```"),
        code("setup", "import json", "from dataclasses import dataclass", "", "import numpy as np", "import torch",
             "import torch.nn.functional as F", "from torch import nn", "",
             f"SEED = {t.seed}  # the weights (SEED), the training batches (SEED + 1), the evaluation set (SEED + 2)",
             f"STEPS = {steps}  # optimisation steps, each updating both models on one batch",
             f"EVERY = {max(1, steps // REPORTS)}  # report every EVERY steps (an evaluation runs both models over "
             "every length)", "",
             *(f"{k.upper()} = {v!r}" for section in (d, m) for k, v in asdict(section).items()),
             *(f"{k.upper()} = {v!r}" for k, v in asdict(t).items() if k not in ("seed", "max_steps")),
             f"EVAL_PER_LENGTH = {trainer.EVAL_PER_LENGTH}  # fixed evaluation sequences of each training length",
             "", "", SHOW_SOURCE),
        markdown("data-text", "## 1. The copy task", "",
                 "The input has bits + 1 channels, the last one the delimiter. A sequence of length T is T + 1 + T "
                 "steps: the T vectors, the delimiter alone, then T blank steps in which the network must write the "
                 "vectors back in order; only those last T steps are scored. Every step draws its length, then its "
                 "bits, from one generator."),
        code("data", source_of(copy_task.CopyBatch, copy_task.copy_batch, copy_task.random_length)),
        markdown("address-text", "## 2. How a head finds its place", "",
                 "A head's weighting w over the N slots comes in four stages: a content lookup (softmax of β times "
                 "the cosine of a key with each row), a gate g that mixes it with the last weighting, a shift by −1, "
                 "0 or +1 slots (a circular convolution) and a sharpening power γ ≥ 1. It reads r = Σᵢ w[i] Mᵢ and "
                 "writes Mᵢ ← Mᵢ ∘ (1 − w[i] e) + w[i] a: erase, then add."),
        code("address", f"SHIFT_RANGE = {model.SHIFT_RANGE}  # the heads may move by -1, 0 or +1 slots a step",
             "N_SHIFTS = 2 * SHIFT_RANGE + 1", f"EPS = {model.EPS}", "", "",
             source_of(model.content_weights, model.interpolate, model.shift, model.sharpen, model.read, model.write,
                       model.address, model.head_parameters)),
        markdown("model-text", "## 3. The two models", "",
                 "Each step the NTM's controller reads the input and the last read vector; the write head writes, "
                 "the read head reads, and the output layer sees the controller's state and the new read vector. "
                 "The LSTM is one layer and a linear read-out, its size chosen to match the NTM's parameter count "
                 "(the memory is not a parameter). Both draw their weights from one generator seeded `SEED`, NTM "
                 "first."),
        code("model", source_of(model.NTMTrace, model.NTM, model.LSTMBaseline, model.ntm_parameter_count,
                                model.lstm_parameter_count, model.matched_lstm_hidden)),
        markdown("loop-text", "## 4. The loss, the optimiser and the loop", "",
                 f"Binary cross-entropy of the answer steps' logits; **{t.optimizer}** with learning rate {t.lr!r}"
                 + (f", each model's gradient norm clipped to {t.clip!r} (the sharpening can make one gradient huge)"
                    if t.clip else "") + ". Each step draws a length and a batch, and updates both models on it. "
                 "A report measures both on the fixed evaluation sequences: every training length, "
                 f"{trainer.EVAL_PER_LENGTH} sequences each, drawn once from `SEED + 2`."),
        code("loop", source_of(trainer._loss_and_error, make_optimizer), "", "", *_loop_lines()),
        markdown("train-text", "## 5. Train", "", "One JSON line a report: the page's numbers for this seed; "
                 "`history` keeps them for the plot."),
        code("train", "history, models = train(STEPS, EVERY)"),
        markdown("plot-text", "### What the plot shows", "",
                 "Left, both models' loss on the evaluation sequences; right, their share of wrong bits (0.5 is "
                 "guessing). The NTM usually stalls first, then drops fast once its heads learn to write in order "
                 "and read back from the start. Below, one copy example of the longest training length: where the "
                 "write and read heads looked at each step (a row a step, a column a slot). A trained NTM writes "
                 "slot after slot while the vectors come in (the orange line is the delimiter), and reads the same "
                 "slots in the same order after it."),
        code("plot", *_curve_lines()),
        code("heads", *_heads_lines()),
    ]


def _loop_lines() -> list[str]:
    return [
        "@torch.no_grad()",
        "def evaluate(models, batches):",
        '    """model -> (mean loss over the batches, share of wrong bits over all their answer bits)."""',
        "    out = {}",
        "    for name, net in models.items():",
        "        net.eval()",
        "        losses, wrong, bits = [], 0.0, 0",
        "        for batch in batches:",
        "            loss, w = _loss_and_error(net(batch.inputs), batch)",
        "            losses.append(float(loss))",
        "            wrong, bits = wrong + float(w), bits + batch.targets.numel()",
        "        out[name] = (float(np.mean(losses)), wrong / bits)",
        "    return out", "", "",
        "def report(models, batches, step):",
        "    errors = evaluate(models, batches)",
        '    return {"step": step, "loss": errors["ntm"][0], "bit_error": errors["ntm"][1],',
        '            "lstm_loss": errors["lstm"][0], "lstm_bit_error": errors["lstm"][1]}', "", "",
        "def train(steps=STEPS, every=EVERY):",
        '    """Both models from SEED, `steps` steps on the same batches; a JSON line every `every` steps."""',
        "    init = torch.Generator().manual_seed(SEED)",
        "    ntm = NTM(BITS, CONTROLLER, MEMORY_SLOTS, MEMORY_WIDTH, init)",
        "    lstm = LSTMBaseline(BITS, LSTM_HIDDEN or matched_lstm_hidden(BITS, CONTROLLER, MEMORY_WIDTH), init)",
        '    models = {"ntm": ntm, "lstm": lstm}',
        "    optimizers = {name: make_optimizer(OPTIMIZER, net.parameters(), LR, 0.0) for name, net in models.items()}",
        "    batches = torch.Generator().manual_seed(SEED + 1)",
        "    evaluation = torch.Generator().manual_seed(SEED + 2)",
        "    eval_set = [copy_batch(EVAL_PER_LENGTH, n, BITS, evaluation) for n in range(MIN_LENGTH, MAX_LENGTH + 1)]",
        '    print(f"NTM: {sum(p.numel() for p in ntm.parameters()):,} parameters, "',
        '          f"LSTM: {sum(p.numel() for p in lstm.parameters()):,}")',
        "    history = [report(models, eval_set, 0)]",
        "    print(json.dumps(history[-1]), flush=True)",
        "    for step in range(1, steps + 1):",
        "        for net in models.values():",
        "            net.train()",
        "        length = random_length(MIN_LENGTH, MAX_LENGTH, batches)",
        "        batch = copy_batch(BATCH_SIZE, length, BITS, batches)",
        "        losses = {name: _loss_and_error(net(batch.inputs), batch)[0] for name, net in models.items()}",
        "        for name, loss in losses.items():",
        "            optimizers[name].zero_grad(set_to_none=True)",
        "            loss.backward()",
        "            if CLIP > 0:",
        "                torch.nn.utils.clip_grad_norm_(models[name].parameters(), CLIP)",
        "            optimizers[name].step()",
        "        if step % every == 0 or step == steps:",
        "            history.append(report(models, eval_set, step))",
        "            print(json.dumps(history[-1]), flush=True)",
        "    return history, models"]


def _curve_lines() -> list[str]:
    return [
        "import plotly.graph_objects as go",
        "from plotly.subplots import make_subplots", "",
        'fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (cross-entropy per bit)", "Wrong bits"))',
        f'for prefix, name, color in [("", "NTM", "{DARK}"), ("lstm_", "LSTM", "{ORANGE}")]:',
        '    steps = [h["step"] for h in history]',
        '    fig.add_scatter(x=steps, y=[h[prefix + "loss"] for h in history], name=name, legendgroup=name,',
        '                    line={"color": color, "width": 2}, row=1, col=1)',
        '    fig.add_scatter(x=steps, y=[h[prefix + "bit_error"] for h in history], name=name, legendgroup=name,',
        '                    showlegend=False, line={"color": color, "width": 2}, row=1, col=2)',
        'fig.update_yaxes(tickformat=".0%", row=1, col=2)',
        'fig.update_xaxes(title_text="step")',
        'fig.update_layout(template="plotly_white", height=380, legend={"orientation": "h", "y": 1.15})',
        'show(fig, "ntm_curves")']


def _heads_lines() -> list[str]:
    return [
        "# The page's example: one sequence of the longest training length, from its own generator.",
        f"example_gen = torch.Generator().manual_seed(SEED * 1009 + {200_000} + MAX_LENGTH)",
        "example = copy_batch(1, MAX_LENGTH, BITS, example_gen)",
        'ntm = models["ntm"].eval()',
        "with torch.no_grad():",
        "    logits, trace = ntm(example.inputs, trace=True)",
        'fig = make_subplots(rows=1, cols=2, subplot_titles=("Write head", "Read head"), shared_yaxes=True)',
        "for col, weights in [(1, trace.write_weights), (2, trace.read_weights)]:",
        '    fig.add_heatmap(z=weights, colorscale="Blues", zmin=0, zmax=1, showscale=col == 2, row=1, col=col)',
        'fig.add_hline(y=MAX_LENGTH, line_dash="dot", line_color="#f59322")  # the delimiter step',
        'fig.update_yaxes(title_text="time step", autorange="reversed", row=1, col=1)',
        'fig.update_xaxes(title_text="memory slot")',
        'fig.update_layout(template="plotly_white", height=420)',
        "wrong = int(((logits[0, MAX_LENGTH + 1:] > 0).float() != example.targets[0]).sum())",
        'print(f"{wrong} of {example.targets.numel()} bits wrong on this example")',
        'show(fig, "ntm_heads")']
