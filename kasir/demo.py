"""A demo catalogue of everyday Indonesian shop goods, a register and first accounts."""
from .auth.service import create_user, generate_password
from .extensions import db
from .models import ROLE_ADMIN, ROLE_CASHIER, Product, Register, User
from .settings import get_setting, set_setting

DEMO_CASHIER = ("kasir", "Kasir Demo", "1234")

# (name, category, price in rupiah, stock)
CATALOGUE = [
    ("Indomie Goreng 85 g", "Makanan Instan", 3_500, 120),
    ("Indomie Soto Mie 75 g", "Makanan Instan", 3_300, 80),
    ("Mie Sedaap Goreng 90 g", "Makanan Instan", 3_400, 80),
    ("Pop Mie Ayam Bawang 75 g", "Makanan Instan", 6_000, 40),
    ("Sarimi Isi 2 Ayam Kecap", "Makanan Instan", 4_500, 40),
    ("Aqua Air Mineral 600 ml", "Minuman", 4_000, 96),
    ("Le Minerale 600 ml", "Minuman", 4_000, 96),
    ("Teh Botol Sosro 450 ml", "Minuman", 6_000, 48),
    ("Teh Pucuk Harum 350 ml", "Minuman", 4_000, 48),
    ("Pocari Sweat 500 ml", "Minuman", 8_500, 24),
    ("Ultra Milk Cokelat 250 ml", "Minuman", 6_500, 36),
    ("Good Day Cappuccino Sachet", "Minuman", 2_000, 100),
    ("Kopi Kapal Api Special Mix", "Minuman", 1_500, 100),
    ("Coca-Cola 390 ml", "Minuman", 6_500, 24),
    ("Beras Pandan Wangi 5 kg", "Sembako", 78_000, 10),
    ("Gula Pasir Gulaku 1 kg", "Sembako", 18_500, 20),
    ("Minyak Goreng Bimoli 2 L", "Sembako", 39_500, 12),
    ("Telur Ayam 1 kg", "Sembako", 29_000, 15),
    ("Tepung Terigu Segitiga Biru 1 kg", "Sembako", 13_500, 15),
    ("Garam Dapur Cap Kapal 250 g", "Sembako", 3_000, 30),
    ("Kecap Manis Bango 220 ml", "Bumbu Dapur", 11_500, 20),
    ("Saus Sambal ABC 135 ml", "Bumbu Dapur", 8_000, 20),
    ("Royco Kaldu Ayam Sachet", "Bumbu Dapur", 1_000, 100),
    ("Masako Kaldu Sapi Sachet", "Bumbu Dapur", 1_000, 100),
    ("Chitato Sapi Panggang 68 g", "Makanan Ringan", 11_000, 24),
    ("Taro Net Seaweed 65 g", "Makanan Ringan", 8_500, 24),
    ("Beng-Beng 20 g", "Makanan Ringan", 2_500, 60),
    ("Oreo Vanila 133 g", "Makanan Ringan", 9_500, 24),
    ("SilverQueen Cashew 58 g", "Makanan Ringan", 16_500, 12),
    ("Roti Tawar Sari Roti", "Makanan Ringan", 16_000, 10),
    ("Tango Wafer Cokelat 130 g", "Makanan Ringan", 9_000, 24),
    ("Sabun Mandi Lifebuoy 75 g", "Perawatan Diri", 4_500, 36),
    ("Pepsodent Pasta Gigi 190 g", "Perawatan Diri", 14_500, 24),
    ("Sampo Sunsilk Sachet", "Perawatan Diri", 1_000, 120),
    ("Rexona Roll On 45 ml", "Perawatan Diri", 22_000, 12),
    ("Rinso Deterjen 770 g", "Kebersihan Rumah", 24_500, 18),
    ("Sunlight Jeruk Nipis 755 ml", "Kebersihan Rumah", 17_000, 18),
    ("Tisu Paseo 250 Lembar", "Kebersihan Rumah", 13_000, 18),
    ("Baygon Aerosol 600 ml", "Kebersihan Rumah", 38_000, 6),
    ("Baterai ABC AA isi 2", "Lain-lain", 8_000, 20),
]


def ean13(body12: str) -> str:
    """Append the EAN-13 check digit."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def load_catalogue() -> int:
    """Add the catalogue when the shop has no products yet; returns how many were added."""
    if db.session.scalar(db.select(Product.id).limit(1)) is not None:
        return 0
    for index, (name, category, price, stock) in enumerate(CATALOGUE, start=1):
        # 899 is Indonesia's GS1 prefix; the company part is invented.
        db.session.add(Product(sku=f"SKU{index:04d}", barcode=ean13(f"8990000{index:05d}"), name=name,
                               category=category, price=price, stock=stock))
    return len(CATALOGUE)


def ensure_register() -> Register:
    register = db.session.scalar(db.select(Register).order_by(Register.id).limit(1))
    if register is None:
        register = Register(code="1", name="Kasir 1")
        db.session.add(register)
    return register


def ensure_accounts() -> tuple[str | None, bool]:
    """First admin with a random password (returned once) and the demo cashier when missing."""
    admin_password = None
    if db.session.scalar(db.select(User.id).where(User.role == ROLE_ADMIN).limit(1)) is None:
        admin_password = generate_password()
        create_user("admin", ROLE_ADMIN, display_name="Pemilik Toko", password=admin_password,
                    must_change_password=True)
    created_cashier = False
    if db.session.scalar(db.select(User.id).where(User.role == ROLE_CASHIER).limit(1)) is None:
        username, display, pin = DEMO_CASHIER
        create_user(username, ROLE_CASHIER, display_name=display, pin=pin)
        created_cashier = True
    return admin_password, created_cashier


def load_demo() -> dict:
    added = load_catalogue()
    ensure_register()
    if not get_setting("shop_name"):
        set_setting("shop_name", "Toko Sumber Rejeki")
        set_setting("shop_address", "Jl. Merdeka No. 17, Depok")
        set_setting("shop_phone", "0812-3456-7890")
    admin_password, created_cashier = ensure_accounts()
    db.session.commit()
    return {"products_added": added, "admin_password": admin_password, "created_cashier": created_cashier}
