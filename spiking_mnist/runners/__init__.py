"""The loops users start: train, evaluate and the command line."""
