"""The customer display on the second monitor."""
from . import routes  # noqa: F401  (views attach to bp)
from .blueprint import bp  # noqa: F401
