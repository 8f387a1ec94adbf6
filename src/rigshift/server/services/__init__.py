"""Services: what the routers (and the CLI's local control plane) call; stores stay behind them.

Each service takes plain values and returns plain dataclasses; ORM rows never leave the stores,
and blocking database work runs on a worker thread so the event loop stays free.
"""
