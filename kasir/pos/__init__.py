"""The cashier screen: product grid, cart and checkout (cash and debit)."""
from . import control_routes, held_routes, money_routes, qris_routes, routes, shift_routes  # noqa: F401  (views attach to bp)
from .blueprint import bp  # noqa: F401
