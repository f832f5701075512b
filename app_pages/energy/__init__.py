"""The Energy models page: a Boltzmann machine, an RBM and a deep belief net trained live."""
