"""Take it home: a lab's run as a Jupyter notebook and as a script, made from one list of pieces.

A lab's exporter (engine/<lab>/take_home.py) returns its run as Pieces: markdown that says what a
step does and why, the way the page says it, and the code of that step. `to_notebook` makes a
notebook of them (a cell each, fixed ids: the same config always gives the same file);
`to_script` makes a .py of the same content (the markdown as comments). Both run alone: they import
torch, numpy, plotly and what the lab's data needs (scikit-learn's digits, ...), never this project.

Conventions every exporter keeps, so that one test harness checks them all:
- the code cell with id "train" prints one JSON line per report, {"step": n, ...}, whose other
  keys are the trainer's snapshot fields of the same name and meaning (train_loss, ...);
- the page's main plot is drawn by a later code cell that ends with show(fig, "a_name"): in a
  notebook it draws inline with plotly.js inside the output (nothing fetched), as a script it
  writes a_name.html beside the working directory.
"""
from __future__ import annotations

import inspect
import json
import textwrap
from dataclasses import dataclass

from . import digits, registries

# The notebook shows figures with this function; a script writes them to an HTML file instead.
SHOW_SOURCE = '''def show(fig, name):
    """Draw a Plotly figure: inline in a notebook (plotly.js inside the output, nothing fetched);
    from a script, into NAME.html in the working directory."""
    try:
        get_ipython  # defined only inside IPython / Jupyter
    except NameError:
        fig.write_html(f"{name}.html", include_plotlyjs=True, include_mathjax=False)
        print(f"wrote {name}.html")
        return
    from IPython.display import HTML, display
    display(HTML(fig.to_html(include_plotlyjs=True, include_mathjax=False, full_html=False)))'''

ORANGE = "#f59322"  # the test set's colour on every page
DARK = "#333333"    # the training set's


@dataclass(frozen=True)
class Piece:
    id: str
    kind: str  # "markdown" or "code"
    text: str


def markdown(piece_id: str, *lines: str) -> Piece:
    return Piece(piece_id, "markdown", "\n".join(lines))


def code(piece_id: str, *lines: str) -> Piece:
    return Piece(piece_id, "code", "\n".join(lines))


def source_of(*objects) -> str:
    """The source of functions and classes, as written in the engine, two blank lines apart: the
    notebook runs the very code the app runs (each object must use only torch, numpy and names the
    notebook defines before it)."""
    return "\n\n\n".join(textwrap.dedent(inspect.getsource(o)).rstrip() for o in objects)


def config_json_lines(config) -> list[str]:
    """The config as JSON, one section a line: still valid JSON, to paste back into the app."""
    d = config.to_dict()
    return ["{"] + [f"  {json.dumps(k)}: {json.dumps(v)}" + ("," if i < len(d) - 1 else "")
                    for i, (k, v) in enumerate(d.items())] + ["}"]


def check_steps(steps) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a whole number of at least 1, got {steps!r}")


def _check(pieces: list[Piece]) -> None:
    ids = [p.id for p in pieces]
    if len(set(ids)) != len(ids):
        raise ValueError(f"piece ids repeat: {ids}")
    if "train" not in ids:
        raise ValueError("an export needs a code piece with id 'train'")
    for p in pieces:
        if p.kind not in ("markdown", "code"):
            raise ValueError(f"piece {p.id!r}: kind must be markdown or code, not {p.kind!r}")


def to_notebook(pieces: list[Piece]) -> str:
    """The .ipynb text (nbformat v4, validated)."""
    import nbformat  # here, not at the top: pages import exporters on every run, nbformat only on a click
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
    _check(pieces)
    cells = [(new_markdown_cell if p.kind == "markdown" else new_code_cell)(p.text, id=p.id) for p in pieces]
    nb = new_notebook(cells=cells, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def to_script(pieces: list[Piece]) -> str:
    """The same pieces as one Python file: the first markdown piece becomes the docstring, the
    others comments above their code; run top to bottom, it does what the notebook does."""
    _check(pieces)
    out: list[str] = []
    for i, p in enumerate(pieces):
        if p.kind == "code":
            out.append(p.text.rstrip())
        elif i == 0:
            out.append('"""' + p.text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').rstrip() + '\n"""')
        else:
            out.append("\n".join(("# " + line).rstrip() for line in p.text.rstrip().splitlines()))
    return "\n\n\n".join(out) + "\n"


def export_text(pieces: list[Piece], fmt: str) -> str:
    if fmt == "ipynb":
        return to_notebook(pieces)
    if fmt == "py":
        return to_script(pieces)
    raise ValueError(f"format must be ipynb or py, not {fmt!r}")


# ---- code several labs' exports share -------------------------------------------------------------
CURVE_POINTS = 100     # about this many reports per run: a curve, not a few dots

# The registry's activations (engine.core.registries.ACTIVATIONS), written out; a test checks they agree.
ACTIVATION_TABLE = [
    "ACTIVATIONS = {",
    '    "relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.01), "elu": nn.ELU, "gelu": nn.GELU,',
    '    "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softplus": nn.Softplus, "linear": nn.Identity,',
    "}",
]


def digits_code() -> str:
    """The engine's digits loader and stratified split (engine/core/digits.py), inlined."""
    return "\n".join([
        f"IMAGE_SIDE = {digits.IMAGE_SIDE}",
        "N_PIXELS = IMAGE_SIDE * IMAGE_SIDE",
        f"N_CLASSES = {digits.N_CLASSES}",
        "", "",
        source_of(digits._digits_file, digits._all_digits, digits.load_digits_split),
    ])

def activation_code() -> str:
    return "\n".join(ACTIVATION_TABLE + ["", "", source_of(registries.make_activation)])

def optimizer_code(name: str, lr: float, weight_decay: float | None = None) -> str:
    """registries.make_optimizer(name, model.parameters(), lr, momentum=0.0) as one expression."""
    decay = f", weight_decay={weight_decay!r}" if weight_decay is not None else ""
    if name == "sgd":
        return f"torch.optim.SGD(model.parameters(), lr={lr!r}, momentum=0.0{decay})"
    if name in ("momentum", "nesterov"):
        nesterov = ", nesterov=True" if name == "nesterov" else ""
        return f"torch.optim.SGD(model.parameters(), lr={lr!r}, momentum=0.9{nesterov}{decay})"
    if name == "rmsprop":
        return f"torch.optim.RMSprop(model.parameters(), lr={lr!r}, momentum=0.0{decay})"
    return f"torch.optim.{ {'adam': 'Adam', 'adagrad': 'Adagrad'}[name] }(model.parameters(), lr={lr!r}{decay})"

def steps_to_run(steps: int, max_steps: int) -> int:
    """The trainer stops by itself at the config's step limit; so does the export."""
    check_steps(steps)
    return min(steps, max_steps) if max_steps else steps
