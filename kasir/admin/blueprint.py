"""The back office's blueprint, alone in its module so that the route modules import it, not the package."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
