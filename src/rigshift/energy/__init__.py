"""Energy operations: prices through time, the per-interval policy, actuation, demand response.

- `prices`: price files and feeds as a regular series of UTC intervals ($/kWh).
- `policy`: the pure per-interval decision (caps, replicas, batch, mining) for one site.
- `simulate`: the policy replayed over a price file against two baselines.
"""
