"""The Neural Turing machine page: an NTM and an LSTM of as many parameters learn the copy task side by side."""
