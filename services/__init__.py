"""The platform's services, each standing alone: services/<name>/ with its domain, adapters,
API, projections and one composition root (`bootstrap.py`, its `SERVICE`).

A service imports `contracts`, the platform core (`hotline`), the shared reference data
(`reference`) and the ticket write model (`ticketing`), and itself; never another service
(`make lint` checks it). `hotline run` and `hotline serve NAME` find them through the
`hotline.services` entry points in pyproject.toml: add a service's there.
"""
