"""Train a named model on MNIST-shaped images.  python mnist.py -m conv_net  |  python mnist.py list"""
from utils.cli import run_task

if __name__ == "__main__":
    run_task("mnist")
