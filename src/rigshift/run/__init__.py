"""Running the farm: Ray cluster of rigs, model replicas, and the seam to the gateway."""
