"""Measurement only, never on a user's path: held-out evaluation of the renderers, the independent age judge,
identity distances, realism tests, head measures and their reports.

May import anything in aging_model and preprocessing; nothing that renders imports it.
"""
