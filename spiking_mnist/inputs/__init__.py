"""Where examples come from: the MNIST files and their spike encoding."""
