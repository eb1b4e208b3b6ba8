"""Learn one column of any CSV from the others.  python tabular.py --data FILE.csv --target COLUMN  |  python tabular.py list"""
from utils.cli import run_task

if __name__ == "__main__":
    run_task("tabular")
