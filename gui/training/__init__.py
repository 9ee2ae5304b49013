"""Training in the window: the wizard that builds a TrainConfig, the dock with live curves, and the controller."""
