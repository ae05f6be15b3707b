"""Tax, service charge and cash rounding for a sale: pure arithmetic, no Flask, no database.

A shop's rules live in a `TaxSettings`; `compute_tax` turns a sale's items into its tax figures
(`SaleTax`). The rule text stored with each sale (`TaxSettings.to_text`) is read back with
`TaxSettings.from_text`, so a report or a partial return recomputes tax by the rule the sale had,
not by today's settings. The one rounding rule is documented in docs/tax.md.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from fractions import Fraction

RULE_VERSION = 1
CASH_ROUNDING_STEPS = (0, 100, 500)
_BP = 10_000  # rates are basis points: 1200 = 12 %


class TaxRuleError(ValueError):
    """A tax setting or stored rule text that is not valid; the message is for the user (Indonesian)."""


def round_half_up(value: Fraction) -> int:
    """Nearest whole rupiah, halves away from zero (amounts here are never negative)."""
    value = Fraction(value)
    whole = value.numerator // value.denominator
    return whole + 1 if value - whole >= Fraction(1, 2) else whole


@dataclass(frozen=True)
class TaxItem:
    """One cart line as tax sees it: its amount (qty x unit price, whole rupiah) and whether it is exempt."""

    amount: int
    exempt: bool = False


@dataclass(frozen=True)
class TaxSettings:
    """A shop's tax rules. Off by default, so a shop without settings sells exactly as before.

    ppn_bp: PPN rate in basis points (1200 = 12 %); dpp_num/dpp_den: the DPP fraction (11/12 for
    non-luxury goods, which makes 12 % an effective 11 %; 1/1 for luxury goods). pbjt_bp: restaurant tax
    (PBJT) in basis points. service_bp: service charge in basis points; service_taxed: whether PPN/PBJT
    apply to it. prices_include_tax: shelf prices already contain PPN/PBJT. cash_rounding: 0, 100 or 500.
    """

    enabled: bool = False
    ppn_bp: int = 1200
    dpp_num: int = 11
    dpp_den: int = 12
    pbjt_bp: int = 0
    service_bp: int = 0
    service_taxed: bool = True
    prices_include_tax: bool = True
    cash_rounding: int = 0

    def __post_init__(self):
        for name in ("ppn_bp", "pbjt_bp", "service_bp"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 5_000:
                raise TaxRuleError("Tarif harus antara 0% dan 50%.")
        if not (isinstance(self.dpp_num, int) and isinstance(self.dpp_den, int)
                and 0 < self.dpp_num <= self.dpp_den):
            raise TaxRuleError("Pecahan DPP tidak valid.")
        if self.cash_rounding not in CASH_ROUNDING_STEPS:
            raise TaxRuleError("Pembulatan tunai harus 0, 100 atau 500.")

    def to_text(self) -> str:
        """The rule as stable JSON text, stored on each sale (sales.tax_rule)."""
        return json.dumps({"v": RULE_VERSION, **asdict(self)}, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str | None) -> "TaxSettings":
        """Read back a rule stored by `to_text`; empty text (sales before tax existed) means tax off.

        Public: returns use it to recompute a partial return by the sale's own rule.
        """
        if not text:
            return cls()
        try:
            data = json.loads(text)
        except ValueError as error:
            raise TaxRuleError("Aturan pajak tersimpan rusak.") from error
        if not isinstance(data, dict) or data.pop("v", None) != RULE_VERSION:
            raise TaxRuleError("Versi aturan pajak tidak dikenal.")
        known = {field.name for field in fields(cls)}
        if set(data) - known:
            raise TaxRuleError("Aturan pajak tersimpan rusak.")
        return cls(**data)


@dataclass(frozen=True)
class SaleTax:
    """A sale's figures, whole rupiah: total = subtotal - discount + service (+ ppn + pbjt if exclusive)."""

    subtotal: int
    discount: int
    service: int
    dpp: int
    ppn: int
    pbjt: int
    total: int
    taxable: int
    exempt: int

    def lines(self) -> list[tuple[str, int]]:
        """Labelled lines for the cart, display, receipt and reports (zero service/PBJT lines left out)."""
        rows = [("Subtotal", self.subtotal)]
        if self.discount:
            rows.append(("Diskon", -self.discount))
        if self.service:
            rows.append(("Biaya layanan", self.service))
        if self.ppn or self.dpp:
            rows += [("DPP", self.dpp), ("PPN", self.ppn)]
        if self.pbjt:
            rows.append(("PBJT", self.pbjt))
        rows.append(("Total", self.total))
        return rows


def compute_tax(items: Iterable[TaxItem], settings: TaxSettings, discount: int = 0) -> SaleTax:
    """Tax figures for a sale's items under `settings`; see docs/tax.md for the rounding rule.

    Rounding happens once per figure on the sale's sums (never per line), half up: service, then DPP,
    then PPN from the rounded DPP, then PBJT. With tax-inclusive prices the taxes are carved out of the
    shelf amount, so the total is exactly the sum of shelf prices plus service: it never drifts.
    `discount` (a whole-sale discount) is shared between exempt and taxable items pro rata, half up.
    """
    items = list(items)
    subtotal = sum(item.amount for item in items)
    exempt = sum(item.amount for item in items if item.exempt)
    if subtotal and discount:
        exempt -= round_half_up(Fraction(discount * exempt, subtotal))
    net_sale = subtotal - discount
    goods_taxable = net_sale - exempt
    if not settings.enabled:
        return SaleTax(subtotal, discount, 0, 0, 0, 0, net_sale, 0, exempt)
    service = round_half_up(Fraction(net_sale * settings.service_bp, _BP))
    if settings.service_taxed:
        taxed_service = service
    else:
        taxed_service = 0
        exempt += service
    gross = goods_taxable + taxed_service
    dpp_part = Fraction(settings.dpp_num, settings.dpp_den)
    ppn_rate = Fraction(settings.ppn_bp, _BP)
    pbjt_rate = Fraction(settings.pbjt_bp, _BP)
    if settings.prices_include_tax:
        net = Fraction(gross) / (1 + dpp_part * ppn_rate + pbjt_rate)
    else:
        net = Fraction(gross)
    dpp = round_half_up(net * dpp_part) if settings.ppn_bp else 0
    ppn = round_half_up(dpp * ppn_rate)
    pbjt = round_half_up(net * pbjt_rate)
    if settings.prices_include_tax:
        total = net_sale + service
        taxable = gross - ppn - pbjt
    else:
        total = net_sale + service + ppn + pbjt
        taxable = gross
    return SaleTax(subtotal, discount, service, dpp, ppn, pbjt, total, taxable, exempt)


def cash_round(total: int, step: int) -> tuple[int, int]:
    """(amount to collect in cash, rounding) for a cash tender: nearest multiple of `step`, ties downward.

    Ties go to the customer (never charged more than half a step over). step 0 means no rounding.
    The rounding figure is signed: negative when the customer pays less than the total.
    """
    if step not in CASH_ROUNDING_STEPS:
        raise TaxRuleError("Pembulatan tunai harus 0, 100 atau 500.")
    if not step:
        return total, 0
    low = total - total % step
    rounded = low + step if (total - low) * 2 > step else low
    return rounded, rounded - total


_PERCENT = re.compile(r"(\d{1,2})(?:[.,](\d{1,2}))?")
_PERCENT_FIELDS = {"ppn": "PPN", "pbjt": "PBJT", "service": "Biaya layanan"}


def parse_percent(text: str | None, label: str) -> int:
    """ "12", "12,5" or "12.25" (percent, at most two decimals) -> basis points; empty means 0."""
    cleaned = (text or "").strip().removesuffix("%").strip()
    if not cleaned:
        return 0
    match = _PERCENT.fullmatch(cleaned)
    if not match:
        raise TaxRuleError(f"{label}: tulis persen seperti 12 atau 12,5.")
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def format_percent(bp: int) -> str:
    """Basis points as the form shows them: 1200 -> "12", 1250 -> "12,5"."""
    whole, rest = divmod(bp, 100)
    return f"{whole},{rest:02d}".rstrip("0").rstrip(",") if rest else str(whole)


def settings_from_form(form: Mapping[str, str]) -> TaxSettings:
    """The admin form (/admin/settings/tax) as a rule; TaxRuleError with an Indonesian message if invalid."""
    rates = {name: parse_percent(form.get(name), label) for name, label in _PERCENT_FIELDS.items()}
    dpp = form.get("dpp", "11/12")
    if dpp not in ("11/12", "1/1"):
        raise TaxRuleError("Pilih DPP 11/12 (barang non-mewah) atau 1/1 (nilai penuh).")
    num, den = (int(part) for part in dpp.split("/"))
    try:
        rounding = int(form.get("cash_rounding", "0"))
    except ValueError:
        raise TaxRuleError("Pembulatan tunai harus 0, 100 atau 500.") from None
    return TaxSettings(enabled=form.get("enabled") == "1", ppn_bp=rates["ppn"], dpp_num=num, dpp_den=den,
                       pbjt_bp=rates["pbjt"], service_bp=rates["service"],
                       service_taxed=form.get("service_taxed") == "1",
                       prices_include_tax=form.get("prices_include_tax", "1") == "1", cash_rounding=rounding)
