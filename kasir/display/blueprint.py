"""The customer display's blueprint, alone in its module so that the route module imports it, not the package."""
from flask import Blueprint

bp = Blueprint("display", __name__, url_prefix="/display")
