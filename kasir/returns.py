"""Returns at the till (issue 24): goods brought back from a PAID sale and the money given back.

The refund is the returned goods' share of what the customer paid, by one rule (`paid_value`): each line
counts pro rata of its amount after its own discount, the sale-wide discount is shared pro rata, and tax
and service are recomputed by the rule stored with the sale (`TaxSettings.from_text(sale.tax_rule)`), not
today's settings. A return's refund is the value of everything returned so far minus the value returned
before it, so several partial returns add up exactly to the sale's total once everything is back.
Cash rounding taken at the cash tender is not refunded.
"""
from collections.abc import Mapping
from fractions import Fraction

from . import approvals, audit, stock
from .database import write_transaction
from .extensions import db
from .models import SALE_PAID, Sale, SaleItem, SaleReturn, SaleReturnItem, User
from .money import format_rupiah
from .tax import TaxItem, TaxSettings, compute_tax, round_half_up

METHOD_CASH = "CASH"
METHODS = (METHOD_CASH,)  # a refund back to QRIS (the payment refund path) is not built yet
APPROVAL_REASON = "Retur perlu persetujuan supervisor."


class ReturnError(ValueError):
    """A return the rules refuse; the message is for the cashier (Bahasa Indonesia)."""


def _line_value(item: SaleItem, quantity: int) -> int:
    """`quantity` of a line's units, after the line's own discount, pro rata (exact for the whole line)."""
    if quantity >= item.quantity:
        return item.line_total
    return round_half_up(Fraction(item.line_total * quantity, item.quantity))


def paid_value(sale: Sale, quantities: Mapping[int, int]) -> int:
    """What the customer paid for `quantities` ({sale_item_id: qty}) of `sale`, whole rupiah.

    Lines pro rata after their discount; the sale discount shared pro rata of the sale's subtotal; tax and
    service by the sale's own stored rule. All of the sale's quantities give exactly `sale.total`.
    """
    items = [(item, quantities.get(item.id, 0)) for item in sale.items]
    amounts = [(item, _line_value(item, qty)) for item, qty in items if qty > 0]
    base = sum(amount for _item, amount in amounts)
    discount = round_half_up(Fraction(sale.discount * base, sale.subtotal)) if sale.subtotal else 0
    rule = TaxSettings.from_text(sale.tax_rule)
    tax_items = [TaxItem(amount, bool(item.product and item.product.tax_exempt)) for item, amount in amounts]
    return compute_tax(tax_items, rule, discount).total


def returned_quantities(sale_id: int) -> dict[int, int]:
    """{sale_item_id: quantity returned so far} for a sale."""
    rows = db.session.execute(
        db.select(SaleReturnItem.sale_item_id, db.func.sum(SaleReturnItem.quantity))
        .join(SaleReturn, SaleReturn.id == SaleReturnItem.return_id)
        .where(SaleReturn.sale_id == sale_id).group_by(SaleReturnItem.sale_item_id))
    return {item_id: int(total) for item_id, total in rows}


def find_sale(receipt_number: str) -> Sale:
    """The sale a receipt number names (as printed: <register>-<yymmdd>-<nnnn>); ReturnError if none or unpaid."""
    text = (receipt_number or "").strip().upper()
    parts = text.rsplit("-", 2)
    sale = None
    if len(parts) == 3 and parts[1].isdigit() and len(parts[1]) == 6 and parts[2].isdigit():
        candidates = db.session.scalars(db.select(Sale).where(Sale.number == int(parts[2])))
        sale = next((candidate for candidate in candidates if candidate.display_number == text), None)
    if sale is None:
        raise ReturnError(f"Struk “{text[:40]}” tidak ditemukan.")
    if sale.status != SALE_PAID:
        raise ReturnError("Transaksi ini belum dibayar atau sudah dibatalkan: tidak bisa diretur.")
    return sale


def create_return(sale: Sale | int, lines: Mapping[int, int], method: str, actor: User,
                  approver: User | None) -> SaleReturn:
    """Take back `lines` ({sale_item_id: qty}) of a PAID sale and record the refund, in one transaction.

    Quantities may not exceed what was sold minus what was already returned. A supervisor answers for it
    (the actor if they are one, else `approver`, checked with `approvals.approve` by the caller); stock comes
    back through `stock.move` (RETURN) and the return is audited.
    """
    if method not in METHODS:
        raise ReturnError("Metode pengembalian dana tidak dikenal.")
    wanted = {int(item_id): int(qty) for item_id, qty in lines.items() if int(qty) != 0}
    if any(qty < 0 for qty in wanted.values()):
        raise ReturnError("Jumlah retur tidak boleh negatif.")
    if not wanted:
        raise ReturnError("Pilih barang yang diretur.")
    supervisor = approvals.require_supervisor(actor, approver, APPROVAL_REASON)
    sale_id = sale if isinstance(sale, int) else sale.id
    with write_transaction():
        sale = db.session.get(Sale, sale_id, with_for_update=True, populate_existing=True)
        if sale is None or sale.status != SALE_PAID:
            raise ReturnError("Transaksi ini belum dibayar atau sudah dibatalkan: tidak bisa diretur.")
        items = {item.id: item for item in sale.items}
        before = returned_quantities(sale.id)
        for item_id, qty in wanted.items():
            item = items.get(item_id)
            if item is None:
                raise ReturnError("Barang ini bukan bagian dari transaksi.")
            left = item.quantity - before.get(item_id, 0)
            if qty > left:
                raise ReturnError(f"{item.name}: paling banyak {left} bisa diretur.")
        after = {item_id: before.get(item_id, 0) + wanted.get(item_id, 0) for item_id in items}
        amount = paid_value(sale, after) - paid_value(sale, before)
        number = 1 + (db.session.scalar(db.select(db.func.count(SaleReturn.id))
                                         .where(SaleReturn.sale_id == sale.id)) or 0)
        sale_return = SaleReturn(sale=sale, number=number, method=method, amount=amount, cashier=actor,
                                 approver=supervisor)
        for item_id, qty in wanted.items():
            item = items[item_id]
            value = _line_value(item, after[item_id]) - _line_value(item, before.get(item_id, 0))
            sale_return.items.append(SaleReturnItem(sale_item=item, quantity=qty, amount=value))
            stock.move(item.product_id, qty, stock.RETURN, f"Retur {sale.display_number}", actor.username)
        db.session.add(sale_return)
        audit.record("SaleReturn", sale.display_number, actor=actor.username,
                     detail=f"number={number} method={method} amount={amount} approved_by={supervisor.username} "
                            + " ".join(f"item={item_id}x{qty}" for item_id, qty in wanted.items()))
    return sale_return


def describe_amount(sale_return: SaleReturn) -> str:
    """What the till says to do: "Kembalikan tunai Rp X"."""
    return f"Kembalikan tunai {format_rupiah(sale_return.amount)}"
