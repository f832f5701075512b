"""Take it home, Autoencoders: the code of the plots that close the export (take_home.py holds the
rest): the page's loss chart, test digits over their reconstructions, and for a 2-number code the
code plane coloured by digit. Each ends with show(fig, name)."""
from __future__ import annotations

from . import models
from .config import AutoencoderConfig

SAMPLE_IMAGES = 12     # test images shown beside their reconstructions, as on the page


def plot_text(config: AutoencoderConfig) -> list[str]:
    m = config.model
    lines = [
        "The first plot is the page's loss chart: the training objective on the training images (blue) and the "
        "test images (orange), per image, on a log scale, and the dashed line PCA's test error with as many "
        "components. Both curves falling together means the code is learning what digits share; a test curve "
        "that stops while the training one falls means it memorises.",
        "",
        "The second shows test digits (the first of each digit, then the next ones) over their reconstructions"
        + (", with the corrupted copy the model was given in between" if m.kind == "denoising" else "")
        + ": what the code kept, and what it lost.",
    ]
    if m.latent_dim == 2:
        lines += ["", "The third is the code plane: every test image at its code, coloured by its digit. Digits that "
                      "form their own clusters are what a good code separates without ever seeing a label."]
    return lines


def curve_code(config: AutoencoderConfig) -> list[str]:
    m, variational = config.model, config.model.kind in models.VARIATIONAL_KINDS
    name = "loss (recon + β·KL)" if variational else "reconstruction loss"
    lines = [
        "import plotly.graph_objects as go",
        "",
        'steps = [h["step"] for h in history]',
        "fig = go.Figure()",
        f'fig.add_scatter(x=steps, y=[h["train_objective"] for h in history], name="train {name}",',
        '                line={"color": "#1f77b4", "width": 2})',
        f'fig.add_scatter(x=steps, y=[h["test_objective"] for h in history], name="test {name}",',
        '                line={"color": "#f59322", "width": 2})',
    ]
    if variational:
        lines += ['fig.add_scatter(x=steps, y=[h["test_kl"] for h in history], name="test KL",',
                  '                line={"color": "#d62728", "width": 1.5, "dash": "dot"})']
    if config.train.loss != "squared" or variational:
        lines += ['fig.add_scatter(x=steps, y=[h["test_squared_error"] for h in history], name="test squared error",',
                  '                line={"color": "#2ca02c", "width": 1.5})']
    lines += [
        "if history:",
        '    fig.add_scatter(x=[steps[0], steps[-1]], y=[PCA_ERRORS[1]] * 2, name="PCA, same k (test)", mode="lines",',
        '                    line={"color": "#7f7f7f", "width": 2, "dash": "dash"})',
        'fig.update_layout(xaxis_title="step", yaxis_title="per image", yaxis_type="log", template="plotly_white",',
        f'                  height=380, legend={{"orientation": "h", "y": 1.15}}, title="{m.kind} autoencoder")',
        'show(fig, "autoencoder_loss")',
    ]
    return lines


def reconstruction_code(config: AutoencoderConfig) -> list[str]:
    denoising = config.model.kind == "denoising"
    return [
        "# The first test image of each digit, then the next ones, as the page picks them.",
        "firsts = [int(np.flatnonzero(y_test == d)[0]) for d in range(N_CLASSES) if (y_test == d).any()]",
        f"shown = (firsts + [i for i in range(len(y_test)) if i not in firsts])[:{SAMPLE_IMAGES}]",
        "model.eval()",
        "with torch.no_grad():",
        "    originals = x_test[shown]",
        *(["    given = noisy_test[shown]  # the fixed corrupted copy",
           "    rows = [(\"original\", originals), (\"noisy input\", given),",
           "            (\"reconstruction\", model.decode(model.encode(given)))]"]
          if denoising else
          ["    rows = [(\"original\", originals), (\"reconstruction\", model.decode(model.encode(originals)))]"]),
        "# One picture: the rows of 8×8 images, a blank pixel between two (NaN draws nothing).",
        "gap = 1",
        "canvas = np.full((len(rows) * (IMAGE_SIDE + gap) - gap, len(shown) * (IMAGE_SIDE + gap) - gap), np.nan)",
        "for r, (_, images) in enumerate(rows):",
        "    for c, image in enumerate(images.numpy().reshape(-1, IMAGE_SIDE, IMAGE_SIDE)):",
        "        top, left = r * (IMAGE_SIDE + gap), c * (IMAGE_SIDE + gap)",
        "        canvas[top:top + IMAGE_SIDE, left:left + IMAGE_SIDE] = image",
        "fig = go.Figure(go.Heatmap(z=canvas, zmin=0, zmax=1, colorscale=[[0, \"#ffffff\"], [1, \"#1b1b1b\"]],",
        "                           showscale=False, hoverongaps=False))",
        "fig.update_yaxes(autorange=\"reversed\", scaleanchor=\"x\", showgrid=False, zeroline=False,",
        "                 tickvals=[r * (IMAGE_SIDE + gap) + 3.5 for r in range(len(rows))],",
        "                 ticktext=[label for label, _ in rows])",
        "fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)",
        "fig.update_layout(template=\"plotly_white\", height=60 + 70 * len(rows), title=\"test digits and their reconstructions\",",
        "                  margin={\"l\": 110, \"r\": 10, \"t\": 30, \"b\": 10})",
        'show(fig, "autoencoder_reconstructions")',
    ]


def codes_code() -> list[str]:
    return [
        "with torch.no_grad():",
        "    codes = model.eval().encode(x_test).numpy()  # (M, 2); the VAE's mean code",
        "colors = [\"#f59322\", \"#1f77b4\", \"#2ca02c\", \"#d62728\", \"#9467bd\", \"#8c564b\", \"#e377c2\", \"#17becf\",",
        "          \"#7f7f7f\", \"#bcbd22\"]",
        "fig = go.Figure()",
        "for digit in range(N_CLASSES):",
        "    mine = y_test == digit",
        "    fig.add_scatter(x=codes[mine, 0], y=codes[mine, 1], mode=\"markers\", name=str(digit),",
        "                    marker={\"color\": colors[digit], \"size\": 6, \"opacity\": 0.8})",
        "fig.update_layout(xaxis_title=\"z₁\", yaxis_title=\"z₂\", template=\"plotly_white\", height=480,",
        "                  title=\"the test digits' codes\", legend_title=\"digit\")",
        'show(fig, "autoencoder_codes")',
    ]
