"""Batch work under the energy policy: the runner asks it before starting lines, and tells it the backlog.

- per replica: a line runs only on a rig whose site has batch on now (`batch_allowed_on_rig`);
- the runner pauses when no site has batch on (so `paused` reads true in the console);
- the policy sees the backlog: tokens still to run per batch and its deadline, priced at the
  batch price, so it runs batch in cheap hours and only runs it at a loss when a deadline is near;
- and the interactive demand the gateway measures, so it knows how much of the replicas'
  capacity is spare for batch lines (their free slots).

Every site sees the whole backlog: a line may run at any site, so each site's policy weighs it
against its own price, and the runner takes the sites that say yes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rigshift.energy.policy import BatchJob
from rigshift.energy.service import EnergyService
from rigshift.server.batch_dispatch import GatewayDispatcher
from rigshift.server.batch_runner import BatchRunner
from rigshift.server.metering import TokenPrices


@dataclass
class EnergyBatchGate:
    energy: EnergyService

    def batch_allowed(self, now: float) -> bool:
        return self.energy.batch_allowed_somewhere()


def connect_batches_to_energy(
    runner: BatchRunner, dispatcher: GatewayDispatcher, energy: EnergyService, prices: TokenPrices
) -> None:
    # A line's revenue per token, at the batch price; completion tokens dominate a line's cost.
    usd_per_m = prices.batch_revenue_usd(0, 1_000_000)
    dispatcher.replica_allowed = lambda replica: energy.batch_allowed_on_rig(replica.rig)
    runner.gate = EnergyBatchGate(energy)
    # The policy sizes replicas from the interactive demand the gateway serves; what the replicas
    # can do beyond it is the spare capacity batch lines fill.
    energy.served_tokens_per_s = dispatcher.gateway.served.tokens_per_s
    other_work = energy.backlog  # deferrable work the loop was given besides the Batch API's

    def backlog(site: str) -> list[BatchJob]:
        batches = [
            BatchJob(b, float(tokens), deadline, usd_per_m) for b, tokens, deadline in runner.backlog()
        ]
        return [*other_work(site), *batches]

    energy.backlog = backlog
