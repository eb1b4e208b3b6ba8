"""Predict bank-customer churn from Churn_Modelling.csv.  python churn.py --data PATH  |  python churn.py list"""
from utils.cli import run_task

if __name__ == "__main__":
    run_task("churn")
