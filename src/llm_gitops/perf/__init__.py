"""Performance measurement of a model on the local machine."""
