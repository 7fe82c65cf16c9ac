"""Train a small Diehl & Cook network with STDP on NEST, then test it: the Python API.

``spiking_mnist.train`` shows MNIST training images one by one to the network while its
input weights learn (STDP, normalised columns, homeostatic thresholds) and writes a
checkpoint into the run directory. ``spiking_mnist.evaluate`` labels each neuron with the
digit it answers most on training images, then classifies test images by the vote of the
labelled neurons. The run directory keeps the checkpoint, ``metrics.json`` and the
responses (``spiking_mnist.read_run`` reads them). A toy size: expect well under the
headline accuracies (those need N=100-400 and 60,000 examples), but above chance (10 %).

Usage: python examples/train_and_evaluate.py [--neurons 20] [--examples 300]
       [--run-dir DIR] [--set section.name=value ...]     (about 20 s as given)
"""
import argparse
import tempfile

import spiking_mnist

# === Parameters ===============================================================

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--neurons", type=int, default=20, help="excitatory neurons (20)")
parser.add_argument("--examples", type=int, default=300, help="training examples (300)")
parser.add_argument("--test-examples", type=int, default=200, help="test images (200)")
parser.add_argument("--run-dir", help="keep the run here (default: a temporary directory)")
parser.add_argument("--set", action="append", default=[], metavar="SECTION.NAME=VALUE",
                    help="change a parameter of the model description")
args = parser.parse_args()

params = spiking_mnist.load_parameters(
    overrides=[f"network.n_excitatory={args.neurons}", *args.set])
run_dir = args.run_dir or tempfile.mkdtemp(prefix="spiking-mnist-")

# === Train the network (STDP on) ==============================================

checkpoint = spiking_mnist.train(run_dir, params, examples=args.examples)
print(f"trained N={args.neurons} on {checkpoint.examples_seen} examples into {run_dir}")

# === Test it (STDP off) =======================================================

metrics = spiking_mnist.evaluate(run_dir, examples=args.test_examples,
                                 label_examples=args.examples)

# === Results ==================================================================

print(f"test accuracy: {100 * metrics['accuracy']:.2f} % on {metrics['examples']} images "
      f"(neurons labelled on {metrics['label_examples']} training images)")
print("digit  images  accuracy  neurons")
for digit, (row, accuracy, neurons) in enumerate(zip(
        metrics["confusion"], metrics["per_class_accuracy"], metrics["neurons_per_class"])):
    print(f"{digit:>5}  {sum(row):>6}  {100 * accuracy:>6.1f} %  {neurons:>7}")
