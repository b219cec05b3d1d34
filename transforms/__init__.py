"""Beam PTransforms for each stage of the data flow, and the pure functions behind them."""
