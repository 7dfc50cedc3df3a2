"""Celery workers: thin tasks over preprocessing/ and aging_model/, sharing only the database and the broker."""
