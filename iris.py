"""Classify iris flowers (scikit-learn's copy).  python iris.py"""
from utils.cli import run_task

if __name__ == "__main__":
    run_task("iris")
