"""Foundations every layer uses: user errors, atomic writes, option declarations and the resolved run config.

Imports nothing else from utils, and never Keras or TensorFlow.
"""
