"""The payment state machine (DESIGN §3)."""
CREATED = "CREATED"
PENDING = "PENDING"
PAID = "PAID"
EXPIRED = "EXPIRED"
CANCELLED = "CANCELLED"
FAILED = "FAILED"
REFUNDED = "REFUNDED"

ALL_STATES = (CREATED, PENDING, PAID, EXPIRED, CANCELLED, FAILED, REFUNDED)

TRANSITIONS: dict[str, frozenset[str]] = {
    CREATED: frozenset({PENDING, FAILED}),
    PENDING: frozenset({PAID, EXPIRED, CANCELLED, FAILED}),
    # Late settlement: money that arrives after we gave up is recorded, never ignored.
    EXPIRED: frozenset({PAID}),
    CANCELLED: frozenset({PAID}),
    PAID: frozenset({REFUNDED}),
    FAILED: frozenset(),
    REFUNDED: frozenset(),
}

# States a cashier's screen stops polling at: nothing more is expected to happen without a new QR.
FINAL_FOR_SCREEN = frozenset({PAID, EXPIRED, CANCELLED, FAILED, REFUNDED})

LABELS = {
    CREATED: "Dibuat", PENDING: "Menunggu pembayaran", PAID: "Lunas", EXPIRED: "Kedaluwarsa",
    CANCELLED: "Dibatalkan", FAILED: "Gagal", REFUNDED: "Dikembalikan",
}


class InvalidTransition(Exception):
    def __init__(self, current: str, target: str):
        super().__init__(f"payment cannot go from {current} to {target}")
        self.current = current
        self.target = target


def check_transition(current: str, target: str) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise InvalidTransition(current, target)
