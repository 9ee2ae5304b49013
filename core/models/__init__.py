"""Models: registry by name, the seed articles' own networks, model files (safetensors + JSON metadata)."""
