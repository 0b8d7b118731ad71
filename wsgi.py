"""WSGI entry point for gunicorn and `flask --app wsgi`."""

from cronmanager import create_app

app = create_app()
