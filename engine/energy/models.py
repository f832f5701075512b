"""The three energy models as torch modules, their parameters and their sampling steps.

Nothing here is trained by autograd: the learning rules are differences of correlations (the
trainers in boltzmann.py, rbm.py and dbn.py), so the parameters are plain tensors that do not ask
for gradients. Each model is still an nn.Module, so that .to(device), state_dict() and the
architecture map's layer summary work as for every other network here.

Shapes: v (B, n_visible), h (B, n_hidden), s (B, n_units) with the visible units first.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _parameter(tensor: torch.Tensor) -> nn.Parameter:
    return nn.Parameter(tensor, requires_grad=False)


def sample_bernoulli(p: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """0/1 samples with probabilities p, drawn from `generator` (on p's device)."""
    return (torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype) < p).to(p.dtype)


class BoltzmannMachine(nn.Module):
    """Every unit linked to every other: E(s) = −½ sᵀWs − bᵀs with W symmetric and zero on the diagonal.

    `weight` (n, n) is kept symmetric with a zero diagonal by the trainer (symmetrise after each update),
    so p(s_i = 1 | the rest) = σ(Σ_j W_ij s_j + b_i)."""

    def __init__(self, n_visible: int, n_hidden: int, init_std: float = 0.01, seed: int = 0):
        super().__init__()
        self.n_visible, self.n_hidden = n_visible, n_hidden
        n = n_visible + n_hidden
        g = torch.Generator().manual_seed(seed)
        upper = torch.triu(torch.randn(n, n, generator=g) * init_std, diagonal=1)
        self.weight = _parameter(upper + upper.T)       # (n, n) symmetric, zero diagonal
        self.bias = _parameter(torch.zeros(n))           # (n,)

    @property
    def n_units(self) -> int:
        return self.n_visible + self.n_hidden

    def energy(self, s: torch.Tensor) -> torch.Tensor:
        """(B,) E(s) of states s (B, n)."""
        return -0.5 * ((s @ self.weight) * s).sum(dim=1) - s @ self.bias

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.energy(s)

    def unit_probability(self, s: torch.Tensor, i: int) -> torch.Tensor:
        """(B,) p(s_i = 1 | every other unit of s), the Gibbs conditional (the diagonal is 0, so s_i itself
        does not count)."""
        return torch.sigmoid(s @ self.weight[:, i] + self.bias[i])

    def gibbs_sweep(self, s: torch.Tensor, units: range, generator: torch.Generator) -> torch.Tensor:
        """Update `units` of s (B, n) one after another, each from its conditional given the current rest;
        in place, and returned. Sequential, because linked units must not change at once."""
        for i in units:
            s[:, i] = sample_bernoulli(self.unit_probability(s, i), generator)
        return s


class RBM(nn.Module):
    """Visible and hidden layers linked, none within a layer: E(v, h) = −vᵀWh − bᵀv − cᵀh.

    So the hidden units are independent given v, and the visible ones given h:
    p(h_j = 1 | v) = σ(c_j + v·W_:j), p(v_i = 1 | h) = σ(b_i + W_i:·h), and summing h out gives the
    free energy F(v) = −bᵀv − Σ_j softplus(c_j + v·W_:j), with p(v) = e^{−F(v)} / Z."""

    def __init__(self, n_visible: int, n_hidden: int, init_std: float = 0.01, seed: int = 0):
        super().__init__()
        self.n_visible, self.n_hidden = n_visible, n_hidden
        g = torch.Generator().manual_seed(seed)
        self.weight = _parameter(torch.randn(n_visible, n_hidden, generator=g) * init_std)  # (V, H)
        self.visible_bias = _parameter(torch.zeros(n_visible))                             # (V,)
        self.hidden_bias = _parameter(torch.zeros(n_hidden))                               # (H,)

    def hidden_probability(self, v: torch.Tensor) -> torch.Tensor:
        """(B, H) p(h = 1 | v) for v (B, V)."""
        return torch.sigmoid(v @ self.weight + self.hidden_bias)

    def visible_probability(self, h: torch.Tensor) -> torch.Tensor:
        """(B, V) p(v = 1 | h) for h (B, H)."""
        return torch.sigmoid(h @ self.weight.T + self.visible_bias)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return self.hidden_probability(v)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """(B,) F(v) = −bᵀv − Σ_j log(1 + exp(c_j + v·W_:j))."""
        return -(v @ self.visible_bias) - F.softplus(v @ self.weight + self.hidden_bias).sum(dim=1)

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """(B,) E(v, h) of the pairs (v[b], h[b])."""
        return -((v @ self.weight) * h).sum(dim=1) - v @ self.visible_bias - h @ self.hidden_bias

    def reconstruct(self, v: torch.Tensor) -> torch.Tensor:
        """(B, V) p(v' = 1 | h) with h at its probabilities given v: the one-step reconstruction, deterministic
        so that its error curve is not noisy."""
        return self.visible_probability(self.hidden_probability(v))

    def gibbs(self, v: torch.Tensor, steps: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """`steps` rounds of v → h → v, all units of a layer at once. Returns (v sampled (B, V), its visible
        probabilities (B, V)) after the last round."""
        probabilities = v
        for _ in range(steps):
            h = sample_bernoulli(self.hidden_probability(v), generator)
            probabilities = self.visible_probability(h)
            v = sample_bernoulli(probabilities, generator)
        return v, probabilities


class DeepBeliefNet(nn.Module):
    """RBMs stacked: the hidden layer of one is the visible layer of the next. forward(v) passes the
    probabilities up, layer by layer; classifier() turns the stack into a feed-forward network."""

    def __init__(self, sizes: list[int], init_std: float = 0.01, seed: int = 0):
        super().__init__()
        self.sizes = list(sizes)   # [pixels, hidden 1, hidden 2, ...]
        self.rbms = nn.ModuleList(RBM(a, b, init_std, seed + i) for i, (a, b) in enumerate(zip(sizes, sizes[1:])))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        for rbm in self.rbms:
            v = rbm(v)
        return v

    def up_to(self, v: torch.Tensor, layer: int) -> torch.Tensor:
        """The probabilities of layer `layer` (0: v itself) for v, passed up through the RBMs below it."""
        for rbm in self.rbms[:layer]:
            v = rbm.hidden_probability(v)
        return v

    def classifier(self, n_classes: int, pretrained: bool, seed: int) -> nn.Sequential:
        """Linear + sigmoid per RBM, then a linear head to n_classes scores (softmax in the loss). With
        `pretrained` the linear layers start from the RBMs' weights and hidden biases; without, from
        PyTorch's default initialisation (uniform in ±1/√fan_in), drawn from a generator seeded with `seed`:
        the same network from scratch. The head starts the same way in both."""
        g = torch.Generator().manual_seed(seed)
        layers: list[nn.Module] = []
        for rbm in self.rbms:
            linear = _seeded_linear(rbm.n_visible, rbm.n_hidden, g)
            if pretrained:
                with torch.no_grad():
                    linear.weight.copy_(rbm.weight.T)
                    linear.bias.copy_(rbm.hidden_bias)
            layers += [linear, nn.Sigmoid()]
        layers.append(_seeded_linear(self.sizes[-1], n_classes, g))
        return nn.Sequential(*layers).to(self.rbms[0].weight.device)


def _seeded_linear(n_in: int, n_out: int, generator: torch.Generator) -> nn.Linear:
    """nn.Linear with PyTorch's default initialisation drawn from `generator`, not the global one."""
    linear = nn.Linear(n_in, n_out)
    bound = n_in ** -0.5
    with torch.no_grad():
        linear.weight.copy_((torch.rand(n_out, n_in, generator=generator) * 2 - 1) * bound)
        linear.bias.copy_((torch.rand(n_out, generator=generator) * 2 - 1) * bound)
    return linear


def build_model(config) -> nn.Module:
    """The untrained module a config of task boltzmann, rbm or dbn describes (the trainers build the same one,
    then set the visible biases from the data): for the architecture map's layer summary."""
    if config.task == "boltzmann":
        return BoltzmannMachine(config.n_visible, config.hidden, seed=config.seed)
    if config.task == "rbm":
        return RBM(64, config.hidden, seed=config.seed)
    if config.task == "dbn":
        return DeepBeliefNet([64, *config.hidden], seed=config.seed)
    raise ValueError(f"not an energy model's task: {config.task!r}")
