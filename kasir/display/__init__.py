"""The customer display on the second monitor."""
from flask import Blueprint

bp = Blueprint("display", __name__, url_prefix="/display")

from . import routes  # noqa: E402,F401
