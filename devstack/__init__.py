"""The embedded local AWS stack: moto made fit for real volumes and concurrency.

Nothing in this package is deployed; Lambda gets only ``app.py`` and ``chalicelib/``.
"""
