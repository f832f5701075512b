"""Classical models beside their neural twins, on the same data: logistic regression and
one neuron, an SVM's hinge and a network trained on it, an RBF-kernel SVM and an RBF network
(rbf.py), a decision tree's impurity and a softmax, k-means and a self-organising map (som.py,
saved and resumed bit for bit by checkpoint.py).
"""
