"""Stores: the only modules that read or write the database (or the model files on disk).

Rows never leave a store: each method takes plain values and returns plain dataclasses. Services
(`rigshift.server.services`) call the stores; routers never do.
"""
