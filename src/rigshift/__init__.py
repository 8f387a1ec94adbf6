"""rigshift: turn a crypto-mining GPU farm into an AI inference business.

The pure core (catalogs, estimator, assessment, economics, planning) lives in sub-packages that
do no I/O; adapters (inventory sources, solvers, cluster, backends, store) sit at the edges; the
CLI and the HTTP API are thin layers over both.
"""

__version__ = "0.1.0"
