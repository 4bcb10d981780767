"""validation: cross-checks of the simulator against SCALE-Sim, analytic bounds and the paper."""
