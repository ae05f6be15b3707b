"""Ways a customer can pay (DESIGN §6): QRIS, a bank virtual account, or a payment page link.

Names are what the API and the database carry; labels are what staff and customers read.
"""
QRIS, VA, LINK = "qris", "va", "link"
METHODS = (QRIS, VA, LINK)
LABELS = {QRIS: "QRIS", VA: "Transfer VA", LINK: "Bayar via HP"}
# What the till calls an open payment of the method ("QR aktif", "VA aktif", "Link aktif").
NOUNS = {QRIS: "QR", VA: "VA", LINK: "Link"}
# Banks a virtual account can be opened at, with the name printed on screens and slips.
BANKS = {"bca": "BCA", "bni": "BNI", "bri": "BRI", "cimb": "CIMB Niaga", "permata": "Permata",
         "mandiri": "Mandiri"}


def group_digits(number: str, size: int = 4) -> str:
    """A VA number in groups a customer can read off a screen: "8808 1234 5678 9012"."""
    return " ".join(number[index:index + size] for index in range(0, len(number), size))
