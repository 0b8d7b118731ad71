"""WSGI entry point for gunicorn and `flask --app wsgi`."""

import sys

from config import ConfigError
from cronmanager import create_app

try:
    app = create_app()
except ConfigError as err:  # one line naming the setting, not a traceback
    sys.exit(f"Configuration error: {err}")
