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


HOME = "home"  # the default page is served at "/"; "/home" leads there too
PAGES = [
    PageInfo("app_pages/home/page.py", "Home", "🏠", HOME, "What the app teaches and where to start.", default=True),
    PageInfo("app_pages/foundations/page.py", "Foundations", "🧮", "foundations",
             "One neuron, activations, losses, gradient descent on a surface, backprop step by step."),
    PageInfo("app_pages/playground/page.py", "Playground", "🧪", "playground",
             "Build a network, train it live on 2-D data, watch every neuron, the boundary and the loss."),
    PageInfo("app_pages/vanishing/page.py", "Vanishing gradients", "📉", "vanishing",
             "Watch gradients vanish or explode layer by layer; compare sigmoid, ReLU + He, residual + LayerNorm."),
    PageInfo("app_pages/cnn/page.py", "Convolutions", "🔳", "cnn",
             "Slide a kernel over a digit cell by cell; train a CNN live, look inside it, draw a digit for it to read."),
    PageInfo("app_pages/autoencoders/page.py", "Autoencoders", "🗜️", "autoencoders",
             "Squeeze digits through a tiny code: a linear autoencoder finds PCA, a VAE and its reparameterisation trick."),
    PageInfo("app_pages/energy/page.py", "Energy models", "🔋", "energy",
             "Boltzmann machines, RBMs and a deep belief net: energy, Gibbs sampling, dreams of digits, greedy pretraining."),
    PageInfo("app_pages/gan/page.py", "GAN lab", "🎭", "gan",
             "A generator and a discriminator play the minimax game live on 2-D shapes and on digits; see mode collapse."),
    PageInfo("app_pages/sequence/page.py", "Sequence models", "🔤", "sequence",
             "Train an RNN, LSTM, GRU and a Transformer on text side by side; watch words form and memory fade."),
    PageInfo("app_pages/ntm/page.py", "Neural Turing machine", "📼", "ntm",
             "An LSTM that reads and writes a memory learns to copy; watch its heads move, then try longer sequences."),
    PageInfo("app_pages/reservoirs/page.py", "Reservoirs", "🌊", "reservoirs",
             "Fixed random networks with a trained read-out: extreme learning machines, echo states, spiking liquids."),
    PageInfo("app_pages/attention/page.py", "Attention explorer", "🔍", "attention",
             "The real attention of a pretrained encoder on your sentence; one head rebuilt by hand, step by step."),
    PageInfo("app_pages/sentiment/page.py", "Sentiment lab", "💬", "sentiment",
             "Train a classifier on real labelled tweets; watch it overfit, read its mistakes, try your own sentences."),
    PageInfo("app_pages/bridges/page.py", "Classical ML bridges", "🌉", "bridges",
             "scikit-learn's classics beside their neural twins on the same data: logistic regression, SVMs, trees, k-means."),
    PageInfo("app_pages/zoo/page.py", "Architecture map", "🗺️", "zoo",
             "The neural network zoo: what each architecture is, which pages build it, and its PyTorch layers."),
]

# The learning path, in order; steps whose page has not landed yet are shown as coming.
LEARNING_PATH = [
    ("One neuron, activations, losses", "foundations"),
    ("Playground: layers, training, over- and underfitting", "playground"),
    ("Vanishing gradients: sigmoid, ReLU, residual connections", "vanishing"),
    ("Convolutions: kernels, feature maps, a CNN that reads digits", "cnn"),
    ("Autoencoders and latent spaces", "autoencoders"),
    ("Energy models: Boltzmann machines, RBMs, deep belief nets", "energy"),
    ("GANs: the minimax game", "gan"),
    ("Sequence models: RNN, LSTM, GRU, Transformer", "sequence"),
    ("Memory: the neural Turing machine", "ntm"),
    ("Reservoirs: random features and echo states", "reservoirs"),
    ("Self-attention on a pretrained encoder", "attention"),
    ("Sentiment classifier on real text", "sentiment"),
    ("Classical ML ↔ neural networks", "bridges"),
    ("The architecture map", "zoo"),
]
