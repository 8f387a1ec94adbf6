"""Catalogs of GPUs and models, and the quantization formats the estimator knows."""
