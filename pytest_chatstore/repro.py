"""Reproduction files' public path: ``from pytest_chatstore.repro import open_store``, in the files the kit writes
and users commit. It lives in :mod:`pytest_chatstore.report.repro`."""

from pytest_chatstore.report.repro import open_store

__all__ = ["open_store"]
