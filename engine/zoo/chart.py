"""The neural network zoo (after the Asimov Institute's chart, van Veen 2016) as plain data, and
each built node's module summarised layer by layer (engine/zoo/summary.py).

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

from .summary import shape_of, summarise


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
# The 27 architectures of the chart the course shows (van Veen 2016); the map adds a few later ones beside them.
SEED_CHART = frozenset({"P", "FF", "RBF", "DFF", "RNN", "LSTM", "GRU", "AE", "VAE", "DAE", "SAE", "MC", "HN", "BM",
                        "RBM", "DBN", "DCN", "DN", "DCIGN", "GAN", "LSM", "ELM", "ESN", "DRN", "KN", "SVM", "NTM"})

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
            "is trained, by ridge regression. The Reservoirs page predicts Mackey–Glass with one.", "esn"),
    ZooNode("LSM", "Liquid state machine", "reservoir", 0, 3, "A reservoir of leaky integrate-and-fire spiking "
            "neurons; a linear read-out of its spike counts reads digits fed row by row.", "lsm"),
    ZooNode("NTM", "Neural Turing machine", "recurrent", 3, 2, "A recurrent controller that reads and writes an "
            "external memory through content and location addressing; it learns to copy.", "ntm"),
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
    ZooNode("MC", "Markov chain", "energy & memory", 4, 1, "States and transition probabilities counted from data; "
            "no learning of features. A character n-gram is the baseline on the Sequence models page.", "markov"),
    ZooNode("HN", "Hopfield network", "energy & memory", 5, 1, "Symmetric weights store patterns as energy minima; "
            "a noisy pattern rolls down to the stored one. Try it below the map.", "hopfield"),
    ZooNode("BM", "Boltzmann machine", "energy & memory", 5, 2, "A stochastic Hopfield network with hidden units, "
            "trained by the difference of a clamped and a free phase.", "boltzmann"),
    ZooNode("RBM", "Restricted Boltzmann machine", "energy & memory", 6, 2, "A Boltzmann machine with no links "
            "inside a layer, trained by contrastive divergence.", "rbm"),
    ZooNode("DBN", "Deep belief network", "energy & memory", 6, 3, "Stacked RBMs, trained greedily layer by layer, "
            "then fine-tuned as a classifier.", "dbn"),
    ZooNode("DCN", "Deep convolutional network", "convolutional", 2, 7.5, "Convolutions share small filters "
            "across an image, so a pattern is found wherever it is; pooling forgets exactly where.", "cnn"),
    ZooNode("DN", "Deconvolutional network", "convolutional", 3, 7.5, "A convolutional network run backwards, "
            "from a code to an image: transposed convolutions spread a small map into a larger one. The GAN lab's "
            "DCGAN generator is one.", "dcgan_generator"),
    ZooNode("DCIGN", "Deep convolutional inverse graphics network", "convolutional", 4, 7.5, "A convolutional "
            "variational autoencoder: strided convolutions to a code's mean and spread, transposed ones back.",
            "conv_vae"),
    ZooNode("ELM", "Extreme learning machine", "reservoir", 1, 7.5, "A feed-forward network with fixed random hidden "
            "weights; only the read-out is trained, in one least-squares solve.", "elm"),
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


def _tensor_table(module: nn.Module, example, learned: dict[str, str], fixed: str) -> dict:
    """The summary of a model whose numbers autograd does not train (set by contrastive divergence, or
    random and fixed beside a read-out solved by ridge regression): one row per tensor, saying how it
    is set. learned maps a tensor's name to how it is learned; every other tensor is `fixed`."""
    with torch.no_grad():
        output = module(example)
    tensors = list(module.named_parameters()) + list(module.named_buffers())
    rows = [{"name": "(model)", "type": type(module).__name__, "depth": 0, "output_shape": shape_of(output),
             "params": 0}]
    rows += [{"name": name, "type": f"{tuple(t.shape)}: {learned.get(name, fixed)}", "depth": 1,
              "output_shape": "—", "params": t.numel()} for name, t in tensors]
    return {"rows": rows, "total_params": sum(t.numel() for _, t in tensors),
            "trainable_params": sum(t.numel() for name, t in tensors if name in learned)}


def _energy(task: str):
    from ..energy.config import BoltzmannConfig, DBNConfig, RBMConfig
    from ..energy.models import build_model
    config = {"boltzmann": BoltzmannConfig, "rbm": RBMConfig, "dbn": DBNConfig}[task]()
    module = build_model(config)
    width = module.weight.shape[0] if task == "boltzmann" else 64
    how = "learned: data correlations minus the model's (Gibbs sampling)" if task == "boltzmann" else \
        "learned by contrastive divergence"
    return _tensor_table(module, torch.zeros(1, width), {name: how for name, _ in module.named_parameters()}, how)


def _reservoir(task: str):
    from ..reservoirs import config as configs
    from ..reservoirs.elm import ELMTrainer
    from ..reservoirs.esn import ESNTrainer
    from ..reservoirs.lsm import LSMTrainer
    trainer, config, example = {"elm": (ELMTrainer, configs.ELMConfig, torch.zeros(5, 2)),
                                "esn": (ESNTrainer, configs.ESNConfig, torch.zeros(50, 1, 1)),
                                "lsm": (LSMTrainer, configs.LSMConfig, torch.zeros(1, 80, 8))}[task]
    module = trainer(config(), "cpu").model
    ridge = "fitted by ridge regression (least squares), in one solve"
    return _tensor_table(module, example.to(next(module.buffers()).dtype), {"readout": ridge, "readout_bias": ridge},
                         "random, fixed: never trained")


def _ntm():
    """The NTM the page trains: its controller, heads and output layer, run over one copy sequence
    of the longest training length (the layers are listed once per time step they run)."""
    from ..ntm.config import NTMConfig
    from ..ntm.model import NTM
    c = NTMConfig()
    d, m = c.data, c.model
    module = NTM(d.bits, m.controller, m.memory_slots, m.memory_width, torch.Generator().manual_seed(c.seed))
    return module, torch.zeros(1, 2 * d.max_length + 1, d.bits + 1)  # (B, 2T+1, bits+1) -> logits (B, 2T+1, bits)


def _markov():
    """A table of counts, not a network: its size is what the order asks of the text."""
    from ..sequence.markov import MarkovConfig, MarkovTrainer
    trainer = MarkovTrainer(MarkovConfig(), "cpu")
    trainer.step(10**6)  # the whole default text, about 0.1 s
    s = trainer.summary()
    rows = [{"name": "counts", "type": f"order-{s['order']} character n-gram counts, add-{s['smoothing']:g} "
             f"smoothing ({s['contexts_seen']:,} of {s['possible_contexts']:,} contexts seen)", "depth": 1,
             "output_shape": f"({s['vocab_size']},) next-character probabilities", "params": s["stored_counts"]}]
    return {"rows": rows, "total_params": s["stored_counts"], "trainable_params": s["stored_counts"]}


@dataclass(frozen=True)
class Builder:
    page: str         # url path of the page that trains the module
    build: Callable   # () -> (module, example input[, forward]) or a written-out summary dict
    query: tuple[tuple[str, str], ...] = ()  # the page's address parameters that open this very setup
    task: str | None = None  # the engine task (python -m engine train) that trains it; None: only its page does


BUILDERS: dict[str, Builder] = {
    "perceptron": Builder("foundations", lambda: _mlp([]), task="classify2d"),
    "feed_forward": Builder("playground", lambda: _mlp([8]), task="classify2d"),
    "deep_feed_forward": Builder("playground", lambda: _mlp([8, 8, 8, 8]), task="classify2d"),
    "residual": Builder("vanishing", lambda: _mlp([32] * 4, residual=True, norm="layer"), task="classify2d"),
    "hinge_neuron": Builder("bridges", lambda: _mlp([])),
    "rbf": Builder("bridges", _rbf),
    "kohonen": Builder("bridges", _kohonen),
    "rnn": Builder("sequence", lambda: _char("rnn"), task="charlm"),
    "lstm": Builder("sequence", lambda: _char("lstm"), task="charlm"),
    "gru": Builder("sequence", lambda: _char("gru"), task="charlm"),
    "transformer": Builder("sequence", lambda: _char("transformer"), task="charlm"),
    "autoencoder": Builder("autoencoders", lambda: _autoencoder("deep"), task="autoencoder"),
    "vae": Builder("autoencoders", lambda: _autoencoder("vae"), task="autoencoder"),
    "denoising_autoencoder": Builder("autoencoders", lambda: _autoencoder("denoising"), task="autoencoder"),
    "sparse_autoencoder": Builder("autoencoders", lambda: _autoencoder("sparse"), task="autoencoder"),
    "conv_vae": Builder("autoencoders", lambda: _autoencoder("conv_vae"), (("preset", "conv-vae"),), "autoencoder"),
    "cnn": Builder("cnn", _cnn, (("tab", "train"),), "cnn"),
    "dcgan_generator": Builder("gan", _deconvolution, (("game", "digits"), ("digits.arch", "dcgan")), "gan"),
    "gan": Builder("gan", _gan, task="gan"),
    "minilm": Builder("attention", _minilm),
    "hopfield": Builder("zoo", _hopfield),
    "markov": Builder("sequence", _markov, (("tab", "markov"),), "markov"),
    "boltzmann": Builder("energy", lambda: _energy("boltzmann"), (("tab", "boltzmann"),), "boltzmann"),
    "rbm": Builder("energy", lambda: _energy("rbm"), (("tab", "rbm"),), "rbm"),
    "dbn": Builder("energy", lambda: _energy("dbn"), (("tab", "dbn"),), "dbn"),
    "elm": Builder("reservoirs", lambda: _reservoir("elm"), (("tab", "elm"),), "elm"),
    "esn": Builder("reservoirs", lambda: _reservoir("esn"), (("tab", "esn"),), "esn"),
    "lsm": Builder("reservoirs", lambda: _reservoir("lsm"), (("tab", "lsm"),), "lsm"),
    "ntm": Builder("ntm", _ntm, task="ntm"),
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


def map_as_data() -> dict:
    """The map as plain data (python -m engine zoo): every node with whether the app builds it, the page that
    trains it (its url path and address parameters) and the engine task that trains it, and the edges."""
    nodes = []
    for n in NODES:
        registered = BUILDERS.get(n.builder) if n.builder else None
        nodes.append({"key": n.key, "name": n.name, "family": n.family, "built": registered is not None,
                      "page": n.page, "query": n.query, "task": registered.task if registered else None,
                      "in_seed_chart": n.key in SEED_CHART})
    return {"nodes": nodes, "edges": [list(e) for e in EDGES]}
