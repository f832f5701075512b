"""What both GAN games' notebooks share: the loss variants in words and the app's losses as code."""
from __future__ import annotations

from ..core.take_home import source_of
from .trainer import _ema, d_probability, gan_losses, mmd_rbf, rbf_kernel_mean

LOSS_WORDS = {
    "minimax": "the original **minimax** game: D minimises −log D(x) − log(1 − D(G(z))), G minimises "
               "log(1 − D(G(z))), which goes flat exactly when G most needs a push (D sure its points are fake)",
    "nonsaturating": "the **non-saturating** game: D as in minimax, but G minimises −log D(G(z)), which "
                     "pushes hardest when D is sure G's points are fake",
    "least_squares": "the **least-squares** game (LSGAN): D's output is pushed to 1 on real points and 0 on "
                     "generated ones, G's output on its points towards 1, by squared error",
}


def source_of_losses() -> str:
    """The app's losses, verdict and distance, as both games' notebooks define them."""
    text = source_of(gan_losses, d_probability, rbf_kernel_mean, mmd_rbf, _ema)
    return text.replace("def _ema(", "def moving_average(")  # the app's private name, said in words


def layers(n: int) -> str:
    return f"{n} hidden layer{'s' if n > 1 else ''}"


def times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"
