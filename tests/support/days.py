"""Helpers over the known days of tests/fixtures/days.py: the gateway's settlement files, a shift over the day."""
from kasir.extensions import db
from kasir.models import Register, Shift, User
from kasir.reports import shifts

# The header of a generic gateway settlement file (kasir.reports.reconcile reads it).
GENERIC = "provider_trx_id,order_id,amount,fee,net_amount,settlement_date,status\n"


def known_day_settlement(known_day) -> str:
    """The gateway's file for the known day: two QRIS sales, the late one, the doubly paid QR and a stranger.
    The refunded sale's QR is not in it."""
    def line(payment, fee):
        return f"{payment.provider_trx_id},{payment.order_id},{payment.amount},{fee},{payment.amount - fee}," \
               f"{known_day.day},settlement\n"

    return (GENERIC + line(known_day.qris_paid, 60) + line(known_day.late, 23) + line(known_day.double, 24)
            + f"trx-ghost,WEB-GHOST,5000,35,4965,{known_day.day},settlement\n")


def settlement_file(money_day) -> str:
    """The gateway's file for the day: every QRIS payment it settled (fee 0,7 %), and one it alone knows."""
    paid = (money_day.qris, money_day.split_qr, money_day.late, money_day.double, money_day.api, money_day.short)
    return GENERIC + "".join(
        f"{p.provider_trx_id},{p.order_id},{p.amount},{p.amount * 7 // 1000},{p.amount - p.amount * 7 // 1000},"
        f"{money_day.day},settlement\n" for p in paid
    ) + f"trx-ghost,WEB-GHOST,5000,35,4965,{money_day.day},settlement\n"


def shift_over_known_day(known_day, opening_cash="200.000") -> Shift:
    """Siti's shift at register 1, opened at 07:00 of the known day."""
    register = db.session.scalar(db.select(Register).where(Register.code == "1"))
    cashier = db.session.scalar(db.select(User).where(User.username == "siti"))
    shift = shifts.open_shift(register, cashier, opening_cash)
    shift.opened_at = known_day.at(7, 0)
    db.session.commit()
    return shift
