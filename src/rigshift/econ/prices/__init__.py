"""Adapters: price files in, `EconInputs` out. The only part of rigshift.econ that reads files.

- `load_inputs(path)`: a prices file (YAML or JSON, docs/economics.md) merged over the shipped
  defaults; every default still in use is listed in `EconInputs.provenance`.
- `read_power_series(path)`: ERCOT NP4-190-CD (day-ahead), NP6-905-CD (real-time) or a plain
  `timestamp,price` CSV, reduced to its mean.
- `read_coins(path)`: a WhatToMine coins.json (or one coin's JSON) or a minerstat coins list.
"""

from rigshift.econ.prices.bundle import load_inputs
from rigshift.econ.prices.coins import read_coins
from rigshift.econ.prices.power_series import read_power_series

__all__ = ["load_inputs", "read_coins", "read_power_series"]
