"""The neural network zoo (the Asimov Institute's chart of architectures) as plain data:
each node, what it is, the page that trains it and a builder for its PyTorch module
(chart.py), the layer-by-layer summary of a module (summary.py), and a Hopfield network that
stores and recalls digits (hopfield.py).
"""
