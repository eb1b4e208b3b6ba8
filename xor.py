"""Learn XOR from its four-row truth table.  python xor.py"""
from utils.cli import run_task

if __name__ == "__main__":
    run_task("xor")
