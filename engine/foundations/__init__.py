"""One neuron and what it is made of, for the Foundations page.

neuron.py     y = act(w·x + b): activations and their derivatives (from autograd), losses
              against the margin m = y·score (MSE, cross-entropy, hinge, 0-1), regularised objectives
surfaces.py   two-parameter loss surfaces and the paths torch.optim's optimisers take on them
backprop.py   one weight's gradient as the chain rule's product of local derivatives, beside
              autograd and a central finite difference (L(w+h) - L(w-h)) / 2h
"""
