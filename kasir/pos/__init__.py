"""The cashier screen: product grid, cart and checkout (cash and debit)."""
from flask import Blueprint

bp = Blueprint("pos", __name__, url_prefix="/pos")

from . import control_routes, money_routes, qris_routes, routes, shift_routes  # noqa: E402,F401
