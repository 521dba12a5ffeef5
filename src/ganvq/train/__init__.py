"""Training: the shared loop (steps, checkpoints, resume, signals) and one Task per model kind."""
