"""The Reservoirs page: extreme learning machines, echo state networks, liquid state machines."""
