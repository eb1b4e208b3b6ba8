"""Comparison of run folders."""
import pandas as pd

from utils.runs import RunRecord


def summary_rows(folders) -> pd.DataFrame:
    rows = []
    for folder in folders:
        data = RunRecord.load(folder).data
        seconds = data.get("seconds_per_epoch") or []
        best = data.get("best") or {}
        test = data.get("test_metrics") or {}
        rows.append(
            {
                "run": data["run_id"],
                "model": data["model"],
                "params": data.get("parameters"),
                "epochs": data.get("epochs_completed"),
                "best_val_accuracy": best.get("value"),
                "best_epoch": best.get("epoch"),
                "test_accuracy": test.get("test_accuracy"),
                "seconds_per_epoch": sum(seconds) / len(seconds) if seconds else None,
            }
        )
    return pd.DataFrame(rows)


def summary_table(folders) -> str:
    table = summary_rows(folders)
    return table.drop(columns=["run"]).to_string(index=False, float_format=lambda value: f"{value:.4f}")
