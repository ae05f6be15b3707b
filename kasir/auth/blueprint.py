"""The login blueprint, alone in its module so that the route module imports it, not the package."""
from flask import Blueprint

bp = Blueprint("auth", __name__)
