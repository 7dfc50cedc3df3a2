"""The Faceage web service: configuration, database, job storage (shared with the workers), and the Flask app.

Only `service.app`, `service.api` and `service.pages` import Flask; the workers use the rest.
"""
