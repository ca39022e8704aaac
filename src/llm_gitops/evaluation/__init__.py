"""Running the lm-evaluation-harness and the results it produces."""
