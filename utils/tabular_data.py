"""Tabular tasks (churn, XOR, Iris): filled in by the tabular issue."""
