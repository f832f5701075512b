"""The Convolutions page: page.py (the tabs and the address), operation.py (one kernel over one digit,
a layer, the transposed convolution), train.py (a CNN trained live), pair.py (CNN against MLP on moved
digits), and state.py / operation_state.py, their plain-Python logic. Its guide: docs/pages/cnn.md."""
