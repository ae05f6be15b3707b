"""Product catalogue rules: validation, CSV import (all or nothing) and export."""
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field

from . import audit
from .clock import utcnow
from .csv_export import csv_lines, restore
from .extensions import db
from .models import AuditLog, Product
from .money import MoneyError, format_number, parse_rupiah

CSV_COLUMNS = ("sku", "barcode", "name", "category", "price", "stock", "active")
TRUE_WORDS = {"1", "ya", "y", "true", "aktif", "yes"}
FTS_CANDIDATES = 2000  # at most this many FTS matches go into the search as an id list
FALSE_WORDS = {"0", "tidak", "t", "false", "nonaktif", "no", "n"}


class ProductError(ValueError):
    """Field errors keyed by field name, messages in Bahasa Indonesia."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (CSV line number, message)


def search(text: str, *, category: str = "", include_inactive: bool = False, limit: int | None = 60):
    """The catalogue search both the till and the admin use: what a cashier types or scans.

    A barcode or SKU matches exactly; otherwise every typed word must start a word of the name, in any
    order ("goreng indomie" finds "Indomie Goreng"). Inactive products are left out unless asked for."""
    words = text.lower().split()[:8]
    query = db.select(Product)
    if category:
        query = query.where(Product.category == category)
    active = None if include_inactive else Product.active.is_(True)
    if words:
        # A barcode or SKU first, on their unique indexes: OR-ed into the name test it would scan every row.
        code = text.strip()
        coded = db.session.scalar(db.select(Product.id).where((Product.barcode == code) | (Product.sku == code)))
        if coded is not None:
            query = query.where(Product.id == coded)
        else:
            name = db.func.lower(Product.name)
            query = query.where(*(db.or_(name.startswith(word, autoescape=True),
                                         name.contains(" " + word, autoescape=True)) for word in words))
            if (match := _fts_match(words)) and db.session.get_bind().dialect.name == "sqlite":
                # SQLite's FTS5 index (migration 0019) names the candidates; the LIKE test above keeps the
                # results exactly what they were. Few candidates: look only at those rows. Many: the words
                # are common, and the name-ordered LIKE query finds its first rows quickly without them.
                # (One query with MATCH in a subquery let SQLite's planner walk the whole name index: ~25 ms.)
                candidates = db.session.scalars(
                    db.text("SELECT rowid FROM products_fts WHERE products_fts MATCH :match LIMIT :cap"),
                    {"match": match, "cap": FTS_CANDIDATES + 1}).all()
                if len(candidates) <= FTS_CANDIDATES:
                    # Active and name inside functions (same meaning): else the planner walks the (active,
                    # name) index over the whole catalogue instead of fetching the candidates by id.
                    if active is not None:
                        query = query.where(db.func.coalesce(Product.active, False).is_(True))
                    return _limited(query.where(Product.id.in_(candidates or [-1])).order_by(Product.name + ""),
                                    limit)
    if active is not None:
        query = query.where(active)
    return _limited(query.order_by(Product.name), limit)


def _limited(query, limit: int | None):
    return query.limit(limit) if limit else query


def _fts_match(words: list[str]) -> str:
    """An FTS5 query that every name matching `words` also matches: each word a quoted prefix phrase
    ("coca-cola" -> "coca-cola"*), so what a cashier types is never read as FTS syntax. Words without a
    letter or digit give FTS nothing to look for and are left to the LIKE test."""
    return " ".join('"' + word.replace('"', '""') + '"*' for word in words if any(ch.isalnum() for ch in word))


def _flag(text: str | None, default: bool = True) -> bool:
    value = (text or "").strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValueError


def clean_product(data: dict[str, str]) -> dict:
    """Validate raw form/CSV fields into product attributes, or raise ProductError."""
    errors: dict[str, str] = {}
    cleaned: dict = {}
    sku = (data.get("sku") or "").strip()
    if not sku or len(sku) > 40 or any(ch.isspace() for ch in sku):
        errors["sku"] = "SKU wajib diisi, tanpa spasi, maks. 40 karakter."
    cleaned["sku"] = sku
    barcode = (data.get("barcode") or "").strip()
    if barcode and (not barcode.isdigit() or not 6 <= len(barcode) <= 20):
        errors["barcode"] = "Barcode harus 6–20 angka (atau kosong)."
    cleaned["barcode"] = barcode or None
    name = " ".join((data.get("name") or "").split())
    if not name or len(name) > 120:
        errors["name"] = "Nama produk wajib diisi (maks. 120 karakter)."
    cleaned["name"] = name
    cleaned["category"] = " ".join((data.get("category") or "").split())[:60] or "Lainnya"
    try:
        cleaned["price"] = parse_rupiah(data.get("price") or "", allow_zero=False)
    except MoneyError as exc:
        errors["price"] = f"Harga: {exc}"
    stock_text = (data.get("stock") or "0").strip().replace(".", "")
    try:
        cleaned["stock"] = int(stock_text)
        if abs(cleaned["stock"]) > 1_000_000:
            raise ValueError
    except ValueError:
        errors["stock"] = "Stok harus bilangan bulat 0 sampai 1.000.000."
    try:
        cleaned["active"] = _flag(data.get("active"))
    except ValueError:
        errors["active"] = "Aktif harus ya/tidak atau 1/0."
    if errors:
        raise ProductError(errors)
    return cleaned


def _stock_errors(cleaned: dict, current_stock: int | None) -> dict[str, str]:
    """Staff may not type a negative stock. Sales may drive a product below zero (sold before it was
    counted in): that figure may be saved back unchanged, e.g. when only the price is edited."""
    if cleaned["stock"] < 0 and cleaned["stock"] != current_stock:
        return {"stock": "Stok tidak boleh negatif. Isi jumlah barang yang ada (0 jika habis)."}
    return {}


def _conflicts(cleaned: dict, product_id: int | None) -> dict[str, str]:
    errors = {}
    other = db.session.scalar(db.select(Product).where(Product.sku == cleaned["sku"]))
    if other is not None and other.id != product_id:
        errors["sku"] = f"SKU {cleaned['sku']} sudah dipakai {other.name}."
    if cleaned["barcode"]:
        other = db.session.scalar(db.select(Product).where(Product.barcode == cleaned["barcode"]))
        if other is not None and other.id != product_id:
            errors["barcode"] = f"Barcode {cleaned['barcode']} sudah dipakai {other.name}."
    return errors


def _apply(product: Product, cleaned: dict) -> None:
    if product.id is not None and product.price != cleaned["price"]:
        audit.record("PriceChange", product.sku,
                     detail=f"{format_number(product.price)} -> {format_number(cleaned['price'])}")
    if product.id is not None and "tax_exempt" in cleaned and product.tax_exempt != cleaned["tax_exempt"]:
        audit.record("TaxExemptChange", product.sku,
                     detail=f"{int(product.tax_exempt)} -> {int(cleaned['tax_exempt'])}")
    for key, value in cleaned.items():
        setattr(product, key, value)


def save_product(data: dict[str, str], product: Product | None = None) -> Product:
    """Create or update one product from form fields; the caller commits. The form's "Bebas pajak" checkbox
    sends tax_exempt only when ticked, so its absence clears the exemption (the CSV import leaves it alone)."""
    cleaned = clean_product(data)
    try:
        cleaned["tax_exempt"] = _flag(data.get("tax_exempt"), default=False)
    except ValueError:
        raise ProductError({"tax_exempt": "Bebas pajak harus ya/tidak."}) from None
    errors = (_stock_errors(cleaned, product.stock if product else None)
              | _conflicts(cleaned, product.id if product else None))
    if errors:
        raise ProductError(errors)
    product = product or Product()
    _apply(product, cleaned)
    db.session.add(product)
    return product


def spreadsheet_text(raw: bytes) -> str:
    """The text of a CSV as spreadsheets save it: UTF-8 (with or without BOM), else Windows-1252 (what
    Excel's plain "CSV" writes on an Indonesian or English Windows). Raises UnicodeDecodeError."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


@dataclass
class CsvRows:
    """A product CSV read and checked row by row: (line number, cleaned fields) in file order, and the columns
    the file does not have (an existing product keeps its own value of those)."""
    rows: list[tuple[int, dict]]
    absent: tuple[str, ...]


def read_csv(raw: bytes, max_rows: int, result: ImportResult) -> CsvRows | None:
    """Parse and validate every row of a product CSV without touching the database: the rows, or None with
    every error (line number, Indonesian message) added to `result`."""
    try:
        text = spreadsheet_text(raw)
    except UnicodeDecodeError:
        result.errors.append((0, "Berkas tidak bisa dibaca sebagai teks. Simpan ulang dari Excel sebagai "
                                 "\"CSV UTF-8\" atau \"CSV (dipisah koma)\"."))
        return None
    first_line = text.split("\n", 1)[0]
    # Spreadsheet apps set to Indonesian write ';' between columns.
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)  # the csv module's newline rule
    try:
        headers = [h.strip().lower() for h in (reader.fieldnames or [])]
        reader.fieldnames = headers
        numbered_rows = [(reader.line_num, row) for row in reader]
    except csv.Error:
        result.errors.append((reader.line_num, "Baris ini rusak (tanda kutip atau baris baru di tempat yang salah). "
                                               "Simpan ulang berkas dari Excel sebagai CSV."))
        return None
    missing = [c for c in ("sku", "name", "price") if c not in headers]
    if missing:
        result.errors.append((1, f"Kolom wajib tidak ada: {', '.join(missing)}. Kolom: {', '.join(CSV_COLUMNS)}."))
        return None
    seen_sku: dict[str, int] = {}
    seen_barcode: dict[str, int] = {}
    rows: list[tuple[int, dict]] = []
    data_rows = 0
    for line, row in numbered_rows:
        if not any((value or "").strip() for key, value in row.items() if key):
            continue
        data_rows += 1
        if data_rows > max_rows:
            result.errors.append((line,
                                  f"Terlalu banyak baris (maks. {max_rows}). Pecah berkas menjadi beberapa bagian."))
            return None
        try:
            cleaned = clean_product({key: restore(value) if isinstance(value, str) else value
                                     for key, value in row.items()})  # a file we exported reads back as it was
        except ProductError as exc:
            result.errors.append((line, str(exc)))
            continue
        for key, seen in (("sku", seen_sku), ("barcode", seen_barcode)):
            value = cleaned[key]
            if value and value in seen:
                result.errors.append((line, f"{key.upper()} {value} sama dengan baris {seen[value]}."))
            elif value:
                seen[value] = line
        rows.append((line, cleaned))
    if not rows and not result.errors:
        result.errors.append((0, "Berkas tidak berisi produk."))
    if result.errors:
        return None
    return CsvRows(rows, tuple(column for column in CSV_COLUMNS if column not in headers))


def _chunks(values: list, size: int = 1000) -> Iterator[list]:
    """IN lists of a bounded size: SQLite and PostgreSQL cap the parameters of one statement."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def check_csv(parsed: CsvRows, result: ImportResult) -> None:
    """The rules that depend on the catalogue as it is: a barcode may only be taken from a product the file
    also lists, and a stock may be negative only where sales left it so. Errors go to `result`."""
    skus = [cleaned["sku"] for _line, cleaned in parsed.rows]
    in_file = set(skus)
    current_stock: dict[str, int] = {}
    for chunk in _chunks(skus):
        current_stock.update(db.session.execute(db.select(Product.sku, Product.stock)
                                                .where(Product.sku.in_(chunk))).all())
    barcodes = [cleaned["barcode"] for _line, cleaned in parsed.rows if cleaned["barcode"]]
    barcode_owner: dict[str, str] = {}
    for chunk in _chunks(barcodes):
        barcode_owner.update(db.session.execute(db.select(Product.barcode, Product.sku)
                                                .where(Product.barcode.in_(chunk))).all())
    for line, cleaned in parsed.rows:
        owner = barcode_owner.get(cleaned["barcode"]) if cleaned["barcode"] else None
        if owner is not None and owner != cleaned["sku"] and owner not in in_file:
            result.errors.append((line, f"Barcode {cleaned['barcode']} sudah dipakai produk SKU {owner}."))
        if "stock" not in parsed.absent:
            stock_errors = _stock_errors(cleaned, current_stock.get(cleaned["sku"]))
            result.errors.extend((line, message) for message in stock_errors.values())


def upsert(rows: list[dict], absent: tuple[str, ...], actor: str, in_file: set[str]) -> tuple[int, int]:
    """Insert or update `rows` (cleaned, checked by `check_csv`) by SKU in the caller's transaction, with a few
    bulk statements: (created, updated). Idempotent, so a batch may be done again after a crash. A barcode
    given to another product is first taken from its holder when the file lists that one too (`in_file`: its
    own row sets its new one); a holder outside the file makes the insert fail (IntegrityError). Price changes
    are audited as on the product form. Stock is set as written, as an import always did (not a movement)."""
    table = Product.__table__
    existing = {}
    for chunk in _chunks([cleaned["sku"] for cleaned in rows]):
        existing.update((sku, (product_id, price)) for product_id, sku, price in db.session.execute(
            db.select(Product.id, Product.sku, Product.price).where(Product.sku.in_(chunk))))
    wanted = {} if "barcode" in absent else {cleaned["barcode"]: cleaned["sku"] for cleaned in rows
                                              if cleaned["barcode"]}
    holders = []
    for chunk in _chunks(list(wanted)):
        holders.extend(product_id for product_id, sku, barcode in db.session.execute(
            db.select(Product.id, Product.sku, Product.barcode).where(Product.barcode.in_(chunk)))
            if wanted[barcode] != sku and sku in in_file)
    if holders:
        db.session.execute(db.update(table).where(table.c.id.in_(holders)).values(barcode=None))
    now = utcnow()
    new = [{**cleaned, "created_at": now, "updated_at": now, "low_stock_threshold": 0, "tax_exempt": False}
           for cleaned in rows if cleaned["sku"] not in existing]
    if new:
        db.session.execute(db.insert(table), new)
    columns = [column for column in CSV_COLUMNS if column not in absent and column != "sku"]
    changed = [{"b_id": existing[cleaned["sku"]][0], "b_updated_at": now,
                **{"b_" + column: cleaned[column] for column in columns}}
               for cleaned in rows if cleaned["sku"] in existing]
    if changed:
        db.session.execute(db.update(table).where(table.c.id == db.bindparam("b_id")).values(
            {column: db.bindparam("b_" + column) for column in [*columns, "updated_at"]}), changed)
    old_price = {sku: price for sku, (_id, price) in existing.items()} if "price" not in absent else {}
    prices = [{"at": now, "actor": actor[:40], "action": "PriceChange", "target": cleaned["sku"], "outcome": "ok",
               "detail": f"{format_number(old_price[cleaned['sku']])} -> {format_number(cleaned['price'])}",
               "ip": ""}
              for cleaned in rows if old_price.get(cleaned["sku"], cleaned["price"]) != cleaned["price"]]
    if prices:
        db.session.execute(db.insert(AuditLog.__table__), prices)
    return len(new), len(changed)


def import_csv(raw: bytes, max_rows: int, actor: str | None = None) -> ImportResult:
    """Upsert products by SKU from CSV in the caller's transaction. Any bad row rejects the whole file: nothing
    half-imported. (The admin page imports through kasir.product_imports, in batches, with progress.)"""
    result = ImportResult()
    parsed = read_csv(raw, max_rows, result)
    if parsed is not None:
        check_csv(parsed, result)
    if result.errors:
        return result
    rows = [cleaned for _line, cleaned in parsed.rows]
    result.created, result.updated = upsert(rows, parsed.absent, actor or "system", {row["sku"] for row in rows})
    audit.record("ImportProducts", f"{result.created} baru, {result.updated} diubah", actor=actor)
    return result


def export_csv() -> Iterator[str]:
    """CSV lines for every product, streamed; the same columns import reads back."""
    products = db.session.scalars(db.select(Product).order_by(Product.category, Product.name)
                                  .execution_options(yield_per=500))
    yield from csv_lines(CSV_COLUMNS, ([product.sku, product.barcode or "", product.name, product.category,
                                        product.price, product.stock, "1" if product.active else "0"]
                                       for product in products))
