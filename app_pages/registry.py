"""Every page of the app, in the order of the learning path. app.py and the Home page
read this list, so a new page is added here once."""
from dataclasses import dataclass


@dataclass(frozen=True)
class PageInfo:
    path: str       # file, relative to the app's folder
    title: str
    icon: str
    url_path: str
    teaches: str    # one line for the Home page
    default: bool = False


PAGES = [
    PageInfo("app_pages/home.py", "Home", "🏠", "home", "What the app teaches and where to start.", default=True),
    PageInfo("app_pages/foundations.py", "Foundations", "🧮", "foundations",
             "One neuron, activations, losses, gradient descent on a surface, backprop step by step."),
    PageInfo("app_pages/playground.py", "Playground", "🧪", "playground",
             "Build a network, train it live on 2-D data, watch every neuron, the boundary and the loss."),
    PageInfo("app_pages/vanishing.py", "Vanishing gradients", "📉", "vanishing",
             "Watch gradients vanish or explode layer by layer; compare sigmoid, ReLU + He, residual + LayerNorm."),
]

# The learning path, in order; steps whose page has not landed yet are shown as coming.
LEARNING_PATH = [
    ("One neuron, activations, losses", "foundations"),
    ("Playground: layers, training, over- and underfitting", "playground"),
    ("Vanishing gradients: sigmoid, ReLU, residual connections", "vanishing"),
    ("Autoencoders and latent spaces", None),
    ("GANs: the minimax game", None),
    ("Sequence models: RNN, LSTM, GRU, Transformer", None),
    ("Self-attention on a pretrained encoder", None),
    ("Sentiment classifier on real text", None),
]
