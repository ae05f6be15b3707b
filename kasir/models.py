"""SQLAlchemy models (DESIGN §4). Money columns are integer rupiah; datetimes are UTC."""
from datetime import date, datetime

from flask_login import UserMixin
from sqlalchemy import BigInteger, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator
from werkzeug.security import check_password_hash, generate_password_hash

from .clock import as_utc, utcnow
from .extensions import db

# SQLite stores BIGINT but only INTEGER is an alias for the rowid; amounts are BigInteger everywhere else.
Money = BigInteger().with_variant(db.Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC on the way in and out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return as_utc(value) if value is not None else None

    def process_result_value(self, value, dialect):
        return as_utc(value) if value is not None else None


ROLE_ADMIN = "admin"
ROLE_CASHIER = "cashier"
ROLES = (ROLE_ADMIN, ROLE_CASHIER)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    pin_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Stored in the session cookie at login and compared on every request: bumping it ends every copy of
    # every cookie this user was given (logout, new PIN or password, deactivation, "log out everywhere").
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def is_admin(self) -> bool:
        return self.role == ROLE_ADMIN

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        """Flask-Login's session token: the id with the session version ("alternative tokens" in its docs),
        so that bumping the version ends every session opened before."""
        return f"{self.id}:{self.session_version}"

    def end_sessions(self) -> None:
        """Revoke every session of this user, on every device (kasir.auth checks the version)."""
        self.session_version = (self.session_version or 0) + 1

    def set_password(self, password: str) -> None:
        """A new password ends the sessions opened with the old one (a copied cookie included)."""
        self.password_hash = generate_password_hash(password)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    def set_pin(self, pin: str) -> None:
        """A new PIN ends the sessions opened with the old one."""
        self.pin_hash = generate_password_hash(pin)
        self.end_sessions()

    def check_pin(self, pin: str) -> bool:
        return bool(self.pin_hash) and check_password_hash(self.pin_hash, pin)


class LoginFailure(db.Model):
    """Failed logins per submitted username (whether or not such a user exists, so that a lockout tells
    no more than the login form does): after a few, the name is locked for a while (kasir.auth.service)."""
    __tablename__ = "login_failures"

    username: Mapped[str] = mapped_column(String(40), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Register(db.Model):
    __tablename__ = "registers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(default=True)
    # The customer display polls cheaply: bumped on every change it shows, compared in one query.
    display_version: Mapped[int] = mapped_column(default=0, server_default="0")
    display_thanks_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    display_token: Mapped[str | None] = mapped_column(String(64))


class Product(db.Model):
    __tablename__ = "products"
    # The till's grid and search: active products in name order (kasir.products.search).
    __table_args__ = (Index("ix_products_active_name", "active", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    barcode: Mapped[str | None] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(60), default="Lainnya", index=True)
    price: Mapped[int] = mapped_column(Money)
    stock: Mapped[int] = mapped_column(default=0)
    # At or below this stock the product is "Stok Menipis" (0: no alert).
    low_stock_threshold: Mapped[int] = mapped_column(default=0, server_default="0")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    tax_exempt: Mapped[bool] = mapped_column(default=False, server_default=false())  # no PPN/PBJT (kasir/tax.py)


IMPORT_QUEUED = "QUEUED"
IMPORT_RUNNING = "RUNNING"
IMPORT_DONE = "DONE"
IMPORT_FAILED = "FAILED"


class ProductImport(db.Model):
    """One uploaded product CSV, checked whole and then upserted in batches by a job (kasir/product_imports.py)."""
    __tablename__ = "product_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default=IMPORT_QUEUED)
    # 1 while queued or running, NULL after: the unique index lets only one import run at a time.
    slot: Mapped[int | None] = mapped_column(unique=True)
    filename: Mapped[str] = mapped_column(String(200), default="")
    total_rows: Mapped[int] = mapped_column(default=0)
    rows_done: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    actor: Mapped[str] = mapped_column(String(40), default="system")
    error: Mapped[str] = mapped_column(Text, default="")
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the job working it holds it until then
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProductImportFile(db.Model):
    """An import's file as uploaded, until the import ends. A row of its own: SQLite rewrites a whole row (its
    megabytes too) on any update, and the import's row is updated with every batch."""
    __tablename__ = "product_import_files"

    import_id: Mapped[int] = mapped_column(ForeignKey("product_imports.id", ondelete="CASCADE"), primary_key=True)
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class StockMovement(db.Model):
    """One change of a product's stock, written with it by `kasir.stock.move` (the stock ledger)."""
    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    change: Mapped[int]
    stock_after: Mapped[int]
    kind: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(200), default="")
    actor: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


SALE_OPEN = "OPEN"
SALE_PAID = "PAID"
SALE_VOID = "VOID"
SALE_HELD = "HELD"  # a parked cart (held_bills): not the register's cart until resumed

METHOD_CASH = "CASH"
METHOD_DEBIT = "DEBIT"
METHOD_QRIS = "QRIS"
METHOD_SPLIT = "SPLIT"  # a sale paid by several tenders
METHOD_LABELS = {METHOD_CASH: "Tunai", METHOD_DEBIT: "Debit", METHOD_QRIS: "QRIS", METHOD_SPLIT: "Campuran"}


class Sale(db.Model):
    """A register's cart while OPEN; a numbered sale once PAID."""

    __tablename__ = "sales"
    __table_args__ = (
        UniqueConstraint("register_id", "business_date", "number", name="uq_sales_register_day_number"),
        Index("ix_sales_status_paid_at", "status", "paid_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    register_id: Mapped[int] = mapped_column(ForeignKey("registers.id"), index=True)
    cashier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    number: Mapped[int | None] = mapped_column()
    business_date: Mapped[date | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(10), default=SALE_OPEN)
    subtotal: Mapped[int] = mapped_column(Money, default=0)
    discount: Mapped[int] = mapped_column(Money, default=0)
    discount_percent: Mapped[int | None] = mapped_column()
    total: Mapped[int] = mapped_column(Money, default=0)
    method: Mapped[str | None] = mapped_column(String(10))
    tendered: Mapped[int | None] = mapped_column(Money)
    change: Mapped[int | None] = mapped_column(Money)
    edc_reference: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The e-receipt's unguessable link (/r/<token>), given when the sale is paid.
    receipt_token: Mapped[str | None] = mapped_column(String(48), index=True, unique=True)
    voided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    void_reason: Mapped[str | None] = mapped_column(String(200))
    # Tax figures as sold and the rule they came from (kasir/tax.py: TaxSettings.from_text(tax_rule)).
    service_charge: Mapped[int] = mapped_column(Money, default=0, server_default="0")
    tax_dpp: Mapped[int] = mapped_column(Money, default=0, server_default="0")
    tax_ppn: Mapped[int] = mapped_column(Money, default=0, server_default="0")
    tax_pbjt: Mapped[int] = mapped_column(Money, default=0, server_default="0")
    cash_rounding: Mapped[int] = mapped_column(Money, default=0, server_default="0")
    tax_rule: Mapped[str | None] = mapped_column(Text)

    register: Mapped[Register] = relationship()
    cashier: Mapped[User | None] = relationship(foreign_keys=[cashier_id])
    voided_by: Mapped[User | None] = relationship(foreign_keys=[voided_by_id])
    items: Mapped[list["SaleItem"]] = relationship(
        back_populates="sale", cascade="all, delete-orphan", order_by="SaleItem.id"
    )
    tenders: Mapped[list["Tender"]] = relationship(back_populates="sale", order_by="Tender.id")

    @property
    def display_number(self) -> str:
        """What the receipt and the cashier read: register code, WIB date and the day's number."""
        if self.number is None or self.business_date is None:
            return "-"
        return f"{self.register.code}-{self.business_date:%y%m%d}-{self.number:04d}"

    @property
    def item_count(self) -> int:
        return sum(item.quantity for item in self.items)


class SaleItem(db.Model):
    __tablename__ = "sale_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    # Name and price are copied: a later price change must not rewrite old receipts.
    name: Mapped[str] = mapped_column(String(120))
    sku: Mapped[str] = mapped_column(String(40))
    unit_price: Mapped[int] = mapped_column(Money)
    quantity: Mapped[int] = mapped_column(default=1)
    discount: Mapped[int] = mapped_column(Money, default=0)
    discount_percent: Mapped[int | None] = mapped_column()

    sale: Mapped[Sale] = relationship(back_populates="items")
    product: Mapped[Product] = relationship()

    @property
    def gross(self) -> int:
        return self.unit_price * self.quantity

    @property
    def line_total(self) -> int:
        return self.gross - self.discount


class SaleReturn(db.Model):
    """Goods a customer brought back from a paid sale, and the money given back (kasir/returns.py)."""

    __tablename__ = "sale_returns"

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    number: Mapped[int] = mapped_column()  # 1, 2, ... per sale
    method: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Money)
    cashier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Of `amount`, what went back through the gateway to a QRIS payment (the rest in cash), its refund key (0022).
    qris_amount: Mapped[int] = mapped_column(Money, default=0, server_default="0")
    payment_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("payments.id"))
    refund_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    sale: Mapped[Sale] = relationship()
    cashier: Mapped[User | None] = relationship(foreign_keys=[cashier_id])
    approver: Mapped[User | None] = relationship(foreign_keys=[approver_id])
    items: Mapped[list["SaleReturnItem"]] = relationship(
        back_populates="sale_return", cascade="all, delete-orphan", order_by="SaleReturnItem.id"
    )

    @property
    def cash_amount(self) -> int:
        """Rupiah given back in cash from the till's drawer."""
        return self.amount - (self.qris_amount or 0)


class SaleReturnItem(db.Model):
    __tablename__ = "sale_return_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("sale_returns.id", ondelete="CASCADE"), index=True)
    sale_item_id: Mapped[int] = mapped_column(ForeignKey("sale_items.id"), index=True)
    quantity: Mapped[int] = mapped_column()
    amount: Mapped[int] = mapped_column(Money)

    sale_return: Mapped[SaleReturn] = relationship(back_populates="items")
    sale_item: Mapped[SaleItem] = relationship()


class HeldBill(db.Model):
    """A parked cart ("Simpan"): its sale waits in HELD until a cashier of the register resumes it."""

    __tablename__ = "held_bills"

    id: Mapped[int] = mapped_column(primary_key=True)
    register_id: Mapped[int] = mapped_column(ForeignKey("registers.id"), index=True)
    cashier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sale: Mapped[Sale] = relationship()
    cashier: Mapped[User | None] = relationship()


class Tender(db.Model):
    """Money taken for a sale (DESIGN §3, money rule): cash, debit, or a PAID payment's share of the total.

    `amount` is what this tender settles of the sale's total: never more than was due when it was taken, except
    the cash that settles the rest, which is the rounded cash actually taken (the sale's `cash_rounding` evens it).
    """

    __tablename__ = "sale_tenders"

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    method: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(Money)
    tendered: Mapped[int | None] = mapped_column(Money)  # cash handed over
    change: Mapped[int | None] = mapped_column(Money)
    edc_reference: Mapped[str | None] = mapped_column(String(40))
    payment_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("payments.id"), unique=True)
    cashier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sale: Mapped[Sale] = relationship(back_populates="tenders")
    payment: Mapped["Payment | None"] = relationship()  # noqa: F821 (kasir.payments.models)

    @property
    def method_label(self) -> str:
        return METHOD_LABELS.get(self.method, self.method)


class Setting(db.Model):
    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(60), primary_key=True)
    value: Mapped[str] = mapped_column(db.Text, default="")
    encrypted: Mapped[bool] = mapped_column(default=False)


class Lease(db.Model):
    """Work done once for the whole shop (kasir.claims.take_lease): taken by one process until expires_at."""
    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditLog(db.Model):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(String(120), default="")
    outcome: Mapped[str] = mapped_column(String(20), default="ok")
    detail: Mapped[str] = mapped_column(db.Text, default="")
    ip: Mapped[str] = mapped_column(String(45), default="")


PRINT_QUEUED = "QUEUED"
PRINT_PRINTED = "PRINTED"
PRINT_FAILED = "FAILED"

PRINT_KIND_RECEIPT = "receipt"


class PrintJob(db.Model):
    """One receipt on its way to the printer: queued, retried with backoff, printed or failed for good."""

    __tablename__ = "print_jobs"
    __table_args__ = (Index("ix_print_jobs_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default=PRINT_KIND_RECEIPT)
    status: Mapped[str] = mapped_column(String(10), default=PRINT_QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    printed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sale: Mapped[Sale] = relationship()


class Shift(db.Model):
    """One cashier's turn at one register: the cash it started with, and the cash counted at the close."""

    __tablename__ = "shifts"
    __table_args__ = (Index("ix_shifts_register_id_closed_at", "register_id", "closed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    register_id: Mapped[int] = mapped_column(ForeignKey("registers.id"))
    cashier_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    opening_cash: Mapped[int] = mapped_column(Money)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    counted_cash: Mapped[int | None] = mapped_column(Money)
    expected_cash: Mapped[int | None] = mapped_column(Money)
    note: Mapped[str | None] = mapped_column(String(200))

    register: Mapped[Register] = relationship()
    cashier: Mapped[User] = relationship()

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    @property
    def difference(self) -> int | None:
        """Counted minus expected: negative is cash missing from the drawer."""
        if self.counted_cash is None or self.expected_cash is None:
            return None
        return self.counted_cash - self.expected_cash


EMAIL_QUEUED = "QUEUED"
EMAIL_SENT = "SENT"
EMAIL_FAILED = "FAILED"


class EmailOutbox(db.Model):
    """A receipt e-mailed to a customer (kasir.mail.outbox): queued at the till, sent by a job, retried with
    backoff, then SENT or FAILED with the reason in Indonesian."""

    __tablename__ = "email_outbox"
    __table_args__ = (Index("ix_email_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(10), default=EMAIL_QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(200))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    sale: Mapped[Sale] = relationship()
