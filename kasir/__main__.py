"""`python -m kasir <command>`: the Flask CLI of this app (DESIGN §9)."""
from flask.cli import FlaskGroup

from . import create_app

cli = FlaskGroup(create_app=create_app, help="Kasir: point of sale with dynamic QRIS.")

if __name__ == "__main__":
    cli(prog_name="python -m kasir")
