"""The receipts' blueprint, alone in its module so that the route module imports it, not the package."""
from flask import Blueprint

bp = Blueprint("printing", __name__)
