"""Inventory adapters: files (CSV, YAML), HiveOS, minerstat, and probes of this machine."""
