"""What every lab shares: the config base (ConfigError, JSON and section parsing), the
registries that name activations, losses, optimisers and initialisations, device choice,
the losses, config <-> address round trips, and the built-in data (tweets, digits, the
app's guides) and the pretrained MiniLM encoder, all read from installed packages offline.

Nothing in core/ imports a lab: the labs import core.
"""
