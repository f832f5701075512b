"""Energy models: the Boltzmann machine, the restricted Boltzmann machine and the deep belief net.

A network of binary stochastic units s ∈ {0, 1}ⁿ with symmetric weights W (zero diagonal) and biases b
gives every joint state an energy, and a probability that falls exponentially with it (the Boltzmann
distribution):

    E(v, h) = −½ sᵀWs − bᵀs,  s = (v, h),        p(v, h) = e^{−E(v,h)} / Z,   Z = Σ_{v,h} e^{−E(v,h)}.

v are the visible units (the data), h the hidden ones (features the model invents). Learning raises
the probability of the data, log p(v) = log Σ_h e^{−E(v,h)} − log Z, whose gradient for a weight is a
difference of two correlations:

    ∂ log p(v) / ∂W_ij = ⟨s_i s_j⟩_data − ⟨s_i s_j⟩_model.

The positive phase clamps v to the data and samples h; the negative phase lets the whole network run
free. The first digs energy valleys at the data, the second fills in valleys the model dreams up where
there is no data. Both averages are estimated by Gibbs sampling: each unit in turn is set to 1 with
probability σ(Σ_j W_ij s_j + b_i).

An RBM has no links within a layer, E(v, h) = −vᵀWh − bᵀv − cᵀh, so a whole layer is sampled at once
and the hidden units sum out in closed form, the free energy

    F(v) = −bᵀv − Σ_j log(1 + e^{c_j + v·W_:j}),   p(v) = e^{−F(v)} / Z.

Contrastive divergence (CD-k) replaces the model's average by the state a chain started at the data
reaches after k rounds v → h → v; persistent CD keeps the chains running between updates. A deep belief
net stacks RBMs, each trained on the hidden probabilities of the one below, and the stack then starts a
feed-forward classifier that backprop fine-tunes.

The machines of the Boltzmann tab are small (at most 20 units), so Z, p(v) and KL(data ‖ model) are
computed exactly by listing every state (exact.py), and sampling's estimates can be checked against them.

Public names: BoltzmannConfig + BoltzmannTrainer (task "boltzmann", tiny pattern sets), RBMConfig +
RBMTrainer (task "rbm", binarised digits), DBNConfig + DBNTrainer (task "dbn"); the modules
BoltzmannMachine, RBM, DeepBeliefNet and build_model(config).
"""

from .boltzmann import BoltzmannSnapshot, BoltzmannTrainer
from .config import BoltzmannConfig, DBNConfig, RBMConfig
from .dbn import DBNSnapshot, DBNTrainer
from .models import RBM, BoltzmannMachine, DeepBeliefNet, build_model
from .rbm import RBMSnapshot, RBMTrainer

__all__ = ["BoltzmannConfig", "BoltzmannMachine", "BoltzmannSnapshot", "BoltzmannTrainer", "DBNConfig", "DBNSnapshot",
           "DBNTrainer", "DeepBeliefNet", "RBM", "RBMConfig", "RBMSnapshot", "RBMTrainer", "build_model"]
