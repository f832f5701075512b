"""The neural network zoo (after the Asimov Institute's chart, van Veen 2016) as plain data,
and a module summariser built on forward hooks: for each layer, in the order it runs, its
type, output shape and parameter count.

A node the app builds names a builder (BUILDERS, at the end of this file) that returns the
very module a page trains, at the page's default size, with an example input, and the page
that trains it (its url path). Whether a node is built is read from that registry, never
written by hand: a node whose builder is not registered is drawn hollow.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn


@dataclass(frozen=True)
class ZooNode:
    key: str          # short name, shown in the node
    name: str
    family: str
    x: float          # position on the map
    y: float
    about: str        # one or two sentences
    builder: str | None = None   # key of BUILDERS; None: the app does not build it

    @property
    def page(self) -> str | None:
        """The url path of the page that trains this architecture; None when the app does not build it."""
        registered = BUILDERS.get(self.builder) if self.builder else None
        return registered.page if registered else None

    @property
    def query(self) -> dict[str, str]:
        """The address parameters that open this architecture on its page ({} for the page's default)."""
        registered = BUILDERS.get(self.builder) if self.builder else None
        return dict(registered.query) if registered else {}


FAMILIES = ("feed-forward", "kernel & competitive", "recurrent", "autoencoder", "generative", "attention",
            "energy & memory", "convolutional", "reservoir")

NODES: list[ZooNode] = [
    ZooNode("P", "Perceptron", "feed-forward", 0, 6, "One neuron: a weighted sum and an activation. Logistic "
            "regression is this neuron with a sigmoid and cross-entropy.", "perceptron"),
    ZooNode("FF", "Feed-forward network", "feed-forward", 1, 6, "Layers of neurons, each fed by the one before.",
            "feed_forward"),
    ZooNode("DFF", "Deep feed-forward network", "feed-forward", 2, 6, "Many hidden layers; trained by backprop, "
            "which long suffered from vanishing gradients.", "deep_feed_forward"),
    ZooNode("DRN", "Deep residual network", "feed-forward", 3, 6, "Skip connections x + f(x) around every block "
            "let the gradient reach the first layers.", "residual"),
    ZooNode("SVM", "Support vector machine", "kernel & competitive", 0, 4.5, "A maximum-margin linear model; with a "
            "kernel, a weighted sum of similarities to support vectors. The Bridges page fits scikit-learn's and a "
            "neuron with hinge loss + L2.", "hinge_neuron"),
    ZooNode("RBF", "Radial basis network", "kernel & competitive", 1, 4.5, "A layer of Gaussian units around "
            "learnable centres, then a linear read-out: a kernel machine that learns its centres.", "rbf"),
    ZooNode("KN", "Kohonen network (SOM)", "kernel & competitive", 2, 4.5, "A grid of prototypes pulled towards the "
            "data, neighbours together: k-means with a map.", "kohonen"),
    ZooNode("RNN", "Recurrent network", "recurrent", 1, 3, "A hidden state carried from step to step.", "rnn"),
    ZooNode("LSTM", "Long short-term memory", "recurrent", 2, 3, "A cell state with input, forget and output gates "
            "keeps gradients alive over long sequences.", "lstm"),
    ZooNode("GRU", "Gated recurrent unit", "recurrent", 3, 3, "An LSTM with two gates and no separate cell.", "gru"),
    ZooNode("ESN", "Echo state network", "reservoir", 0, 2, "A fixed random recurrent reservoir; only the read-out "
            "is trained."),
    ZooNode("LSM", "Liquid state machine", "reservoir", 0, 3, "A reservoir of spiking neurons."),
    ZooNode("NTM", "Neural Turing machine", "recurrent", 3, 2, "A recurrent controller that reads and writes an "
            "external memory."),
    ZooNode("TF", "Transformer (attention network)", "attention", 4, 3, "Self-attention instead of recurrence: "
            "every position looks at every other in one step.", "transformer"),
    ZooNode("BERT", "Pretrained Transformer encoder (MiniLM)", "attention", 5, 3, "A 6-layer encoder trained on "
            "large text; the app reads its attention and uses its sentence vectors.", "minilm"),
    ZooNode("AE", "Autoencoder", "autoencoder", 3, 4.5, "Compresses the input to a small code and rebuilds it. "
            "Linear, it finds the same subspace as PCA.", "autoencoder"),
    ZooNode("VAE", "Variational autoencoder", "autoencoder", 4, 4.5, "The code is a distribution pulled towards "
            "N(0, I), so new inputs can be sampled.", "vae"),
    ZooNode("DAE", "Denoising autoencoder", "autoencoder", 4, 5.3, "Rebuilds the clean input from a corrupted one.",
            "denoising_autoencoder"),
    ZooNode("SAE", "Sparse autoencoder", "autoencoder", 4, 3.7, "A wide code with a penalty that keeps most units "
            "silent.", "sparse_autoencoder"),
    ZooNode("GAN", "Generative adversarial network", "generative", 5, 6, "A generator and a discriminator trained "
            "against each other.", "gan"),
    ZooNode("MC", "Markov chain", "energy & memory", 4, 1, "States and transition probabilities; no learning of "
            "features."),
    ZooNode("HN", "Hopfield network", "energy & memory", 5, 1, "Symmetric weights store patterns as energy minima; "
            "a noisy pattern rolls down to the stored one. Try it below the map.", "hopfield"),
    ZooNode("BM", "Boltzmann machine", "energy & memory", 5, 2, "A stochastic Hopfield network with hidden units."),
    ZooNode("RBM", "Restricted Boltzmann machine", "energy & memory", 6, 2, "A Boltzmann machine with no links "
            "inside a layer."),
    ZooNode("DBN", "Deep belief network", "energy & memory", 6, 3, "Stacked RBMs, trained layer by layer."),
    ZooNode("DCN", "Deep convolutional network", "convolutional", 2, 7.5, "Convolutions share small filters "
            "across an image, so a pattern is found wherever it is; pooling forgets exactly where.", "cnn"),
    ZooNode("DN", "Deconvolutional network", "convolutional", 3, 7.5, "A convolutional network run backwards, "
            "from a code to an image: transposed convolutions spread a small map into a larger one. The GAN lab's "
            "DCGAN generator is one.", "dcgan_generator"),
    ZooNode("DCIGN", "Deep convolutional inverse graphics network", "convolutional", 4, 7.5, "A convolutional "
            "variational autoencoder: strided convolutions to a code's mean and spread, transposed ones back.",
            "conv_vae"),
    ZooNode("ELM", "Extreme learning machine", "reservoir", 1, 7.5, "A feed-forward network with fixed random hidden "
            "weights; only the read-out is trained."),
    ZooNode("CN", "Capsule network", "convolutional", 3, 8.3, "Groups of neurons whose vector output encodes a "
            "part's pose."),
]

EDGES: list[tuple[str, str]] = [
    ("P", "FF"), ("FF", "DFF"), ("DFF", "DRN"), ("P", "SVM"), ("SVM", "RBF"), ("FF", "RBF"), ("RBF", "KN"),
    ("DFF", "RNN"), ("RNN", "LSTM"), ("RNN", "GRU"), ("RNN", "ESN"), ("ESN", "LSM"), ("LSTM", "NTM"),
    ("LSTM", "TF"), ("TF", "BERT"), ("DFF", "AE"), ("AE", "VAE"), ("AE", "DAE"), ("AE", "SAE"), ("DRN", "GAN"),
    ("VAE", "GAN"), ("MC", "HN"), ("HN", "BM"), ("BM", "RBM"), ("RBM", "DBN"), ("DFF", "DCN"), ("DCN", "DN"),
    ("DN", "DCIGN"), ("FF", "ELM"), ("DCN", "CN"),
]


def node(key: str) -> ZooNode:
    for n in NODES:
        if n.key == key:
            return n
    raise KeyError(f"no zoo node {key!r}; choose from {', '.join(n.key for n in NODES)}")


# ---------------- the summariser ----------------
def _shape_of(value) -> str:
    if isinstance(value, torch.Tensor):
        return str(tuple(value.shape))
    if isinstance(value, (tuple, list)):
        parts = [_shape_of(v) for v in value if isinstance(v, (torch.Tensor, tuple, list))]
        return "[" + ", ".join(parts) + "]" if parts else "—"
    first = getattr(value, "last_hidden_state", None)  # transformers' model outputs
    return _shape_of(first) if first is not None else "—"


def summarise(module: nn.Module, example_input=None, forward=None) -> dict:
    """Layers in the order they run: {"rows": [{name, type, depth, output_shape, params}], "total_params",
    "trainable_params"}. With example_input (a tensor or a tuple of forward's arguments) each row has its
    output shape, from forward hooks registered here and removed before returning; without it, the rows
    list the modules that hold parameters and the shapes read "—". Parameters are counted once, at the
    first call of the module that owns them (recurse=False), so the rows add up to the total.
    `forward` (default: the module itself) is what runs on the example, for models used through
    methods such as encode/decode."""
    rows: list[dict] = []
    counted: set[int] = set()

    def own_params(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters(recurse=False))

    def row(name: str, m: nn.Module, shape: str, at: int | None = None) -> None:
        first = id(m) not in counted
        counted.add(id(m))
        rows.insert(len(rows) if at is None else at, {"name": name or "(model)", "type": type(m).__name__, "depth": name.count(".") + (1 if name else 0),
                     "output_shape": shape, "params": own_params(m) if first else 0})

    if example_input is None:
        for name, m in module.named_modules():
            if own_params(m) or not list(m.children()):
                row(name, m, "—")
    else:
        handles = []
        for name, m in module.named_modules():
            is_leaf = not list(m.children())
            if name and (is_leaf or own_params(m)):
                handles.append(m.register_forward_hook(
                    lambda mod, _inp, out, name=name: row(name, mod, _shape_of(out))))
        args = example_input if isinstance(example_input, tuple) else (example_input,)
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                out = (forward or module)(*args)
        finally:
            for h in handles:
                h.remove()
            module.train(was_training)
        if own_params(module):  # parameters on the model itself (an RBF network's centres)
            row("", module, _shape_of(out), at=0)
        for name, m in module.named_modules():  # modules the forward pass never reached
            if id(m) not in counted and own_params(m):
                row(name, m, "not called")
    total = sum(p.numel() for p in module.parameters())
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return {"rows": rows, "total_params": total, "trainable_params": trainable}


# ---------------- what the app builds for each node ----------------
def _mlp(hidden: list[int], residual: bool = False, norm: str = "none"):
    from ..mlp.config import ExperimentConfig
    from ..mlp.models import build_model
    config = ExperimentConfig.from_dict({"model": {"hidden": hidden, "residual": residual, "norm": norm},
                                         "train": {"loss": "bce"}})
    return build_model(config), torch.zeros(1, 2)


def _rbf():
    from ..bridges.rbf import RBFNetwork
    return RBFNetwork(2, 12, 1), torch.zeros(1, 2)


def _char(arch: str):
    from ..sequence.models import build_char_model
    from ..sequence.trainer import CharModelConfig
    c = CharModelConfig(arch=arch)
    # A vocabulary of 65 characters and a context of 64, run on one window of 32 ids.
    return (build_char_model(arch, 65, c.hidden, c.layers, c.dropout, 64, c.heads, c.positions),
            torch.zeros(1, 32, dtype=torch.long))


def _autoencoder(kind: str):
    from ..autoencoders.models import build_autoencoder
    from ..autoencoders.trainer import AutoencoderConfig
    c = AutoencoderConfig(model=kind)
    model = build_autoencoder(kind, c.latent_dim, c.hidden, c.depth, c.activation, c.seed)
    return model, torch.zeros(1, 64), lambda x: model.decode(model.encode(x))


class _Pair(nn.Module):
    """Two networks shown as one model: a GAN's generator and discriminator."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module):
        super().__init__()
        self.generator, self.discriminator = generator, discriminator

    def forward(self, z):
        return self.discriminator(self.generator(z))


def _gan():
    from ..gan.trainer import GANConfig, GANTrainer
    trainer = GANTrainer(GANConfig(), "cpu")
    return _Pair(trainer.G, trainer.D), torch.zeros(1, trainer.config.noise_dim)


def _minilm():
    from ..core.pretrained import load_minilm
    tokenizer, model = load_minilm()
    ids = tokenizer(["the film was wonderful"], return_tensors="pt")
    return model, (ids["input_ids"], ids["attention_mask"])


def _kohonen():
    """The SOM keeps its prototypes in one tensor and is trained without gradients: no layers
    to hook, so its summary is written out."""
    from ..bridges.som import SOMConfig
    c = SOMConfig()
    n = c.rows * c.cols * 2
    return {"rows": [{"name": "prototypes", "type": "Tensor (rows·cols, d)", "depth": 1,
                      "output_shape": f"({c.rows * c.cols},) distances to one point", "params": n}],
            "total_params": n, "trainable_params": n}


def _hopfield():
    """64 ±1 units, one per pixel of an 8×8 digit; the weights are set by a storage rule, not trained."""
    n = 64
    return {"rows": [{"name": "weights", "type": "Tensor (n, n), symmetric, zero diagonal", "depth": 1,
                      "output_shape": "(64,) next state", "params": n * n}],
            "total_params": n * n, "trainable_params": n * (n - 1) // 2}


def _cnn():
    from ..cnn.config import CNNConfig
    from ..cnn.models import build_network
    config = CNNConfig()
    return build_network(config.model, config.seed), torch.zeros(1, 1, 8, 8)


def _deconvolution():
    """The DCGAN generator the GAN lab trains on the digits: noise -> 2×2 map -> 4×4 -> 8×8."""
    from ..gan.dcgan import digit_networks
    from ..gan.digits import DigitsGANConfig
    c = DigitsGANConfig(architecture="dcgan")
    generator, _ = digit_networks("dcgan", c.noise_dim, c.hidden)
    return generator, torch.zeros(2, c.noise_dim)  # 2: its batch norm needs more than one sample


@dataclass(frozen=True)
class Builder:
    page: str         # url path of the page that trains the module
    build: Callable   # () -> (module, example input[, forward]) or a written-out summary dict
    query: tuple[tuple[str, str], ...] = ()  # the page's address parameters that open this very setup


BUILDERS: dict[str, Builder] = {
    "perceptron": Builder("foundations", lambda: _mlp([])),
    "feed_forward": Builder("playground", lambda: _mlp([8])),
    "deep_feed_forward": Builder("playground", lambda: _mlp([8, 8, 8, 8])),
    "residual": Builder("vanishing", lambda: _mlp([32] * 4, residual=True, norm="layer")),
    "hinge_neuron": Builder("bridges", lambda: _mlp([])),
    "rbf": Builder("bridges", _rbf),
    "kohonen": Builder("bridges", _kohonen),
    "rnn": Builder("sequence", lambda: _char("rnn")), "lstm": Builder("sequence", lambda: _char("lstm")),
    "gru": Builder("sequence", lambda: _char("gru")), "transformer": Builder("sequence", lambda: _char("transformer")),
    "autoencoder": Builder("autoencoders", lambda: _autoencoder("deep")),
    "vae": Builder("autoencoders", lambda: _autoencoder("vae")),
    "denoising_autoencoder": Builder("autoencoders", lambda: _autoencoder("denoising")),
    "sparse_autoencoder": Builder("autoencoders", lambda: _autoencoder("sparse")),
    "conv_vae": Builder("autoencoders", lambda: _autoencoder("conv_vae"), (("preset", "conv-vae"),)),
    "cnn": Builder("cnn", _cnn, (("tab", "train"),)),
    "dcgan_generator": Builder("gan", _deconvolution, (("game", "digits"), ("digits.arch", "dcgan"))),
    "gan": Builder("gan", _gan),
    "minilm": Builder("attention", _minilm),
    "hopfield": Builder("zoo", _hopfield),
}
# Built in a blink: the page summarises these at once; the others (MiniLM) on request.
HEAVY = {"minilm"}


def node_summary(key: str) -> dict:
    """The summary of the module the app builds for a node. Raises LookupError when the app
    does not build it, and passes on whatever the builder raises."""
    n = node(key)
    if n.page is None:
        raise LookupError(f"the app does not build a {n.name}")
    built = BUILDERS[n.builder].build()
    if isinstance(built, dict):
        return built
    module, example, *forward = built
    return summarise(module, example, forward[0] if forward else None)
