import secrets
from datetime import date

from flask import Response, current_app, flash, g, redirect, render_template, request, stream_with_context, url_for

from .. import approvals, attention, audit, product_imports, products, sales
from ..auth import admin_required, keep_session
from ..auth.service import AccountError, create_user, validate_password, validate_pin
from ..clock import business_date
from ..extensions import db
from ..models import IMPORT_DONE, ROLES, SALE_PAID, SALE_VOID, Product, ProductImport, Register, Sale, User
from ..payments.merchant import merchant_identity
from ..payments.qris_text import plain_text
from ..printing import queue as print_queue
from ..printing.backends import PrinterError
from ..printing.layout import COLUMNS
from ..printing.settings import printer_settings, save_printer_settings
from ..reports import daily
from ..settings import SHOP_DEFAULTS, set_setting, shop_profile
from .blueprint import bp

PAGE_SIZE = 50


@bp.route("")
@admin_required
def index():
    """Today's figures, as the day report counts them (kasir.reports.daily), and what needs the owner."""
    report = daily.build_report(business_date())
    return render_template("admin/index.html", report=report, notices=attention.notices(report))


@bp.route("/products")
@admin_required
def product_list():
    search = request.args.get("q", "").strip()[:60]
    category = request.args.get("category", "")[:60]
    page = max(request.args.get("page", 1, type=int), 1)
    query = products.search(search, category=category, include_inactive=True, limit=None)
    query = query.order_by(None).order_by(Product.category, Product.name)
    pagination = db.paginate(query, page=page, per_page=PAGE_SIZE,
                             error_out=False)
    categories = db.session.scalars(db.select(Product.category).distinct().order_by(Product.category)).all()
    return render_template("admin/products.html", pagination=pagination, search=search, category=category,
                           categories=categories)


def _product_form(product: Product | None):
    errors: dict[str, str] = {}
    form = request.form if request.method == "POST" else None
    if form is not None:
        try:
            saved = products.save_product(form.to_dict(), product)
        except products.ProductError as exc:
            db.session.rollback()
            errors = exc.errors
        else:
            audit.record("SaveProduct", saved.sku, detail=f"tax_exempt={int(saved.tax_exempt)}")
            db.session.commit()
            flash(f"Produk {saved.name} disimpan.", "success")
            return redirect(url_for("admin.product_list"))
    return render_template("admin/product_form.html", product=product, form=form,
                           errors=errors), (422 if errors else 200)


@bp.route("/products/new", methods=["GET", "POST"])
@admin_required
def product_new():
    return _product_form(None)


@bp.route("/products/<int:product_id>", methods=["GET", "POST"])
@admin_required
def product_edit(product_id):
    return _product_form(db.get_or_404(Product, product_id))


@bp.route("/products/import", methods=["GET", "POST"])
@admin_required
def product_import():
    """Upload: checked whole (errors by line, nothing imported), then imported in batches by a job
    (kasir.product_imports). A file of one batch is done here at once, as before; a bigger one shows progress."""
    result = None
    if request.method == "POST":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            result = products.ImportResult(errors=[(0, "Pilih berkas CSV terlebih dahulu.")])
        else:
            job, result = product_imports.start(upload.read(), upload.filename,
                                                current_app.config["CSV_IMPORT_MAX_ROWS"], g.user.username)
            if job is not None:
                if job.total_rows <= product_imports.BATCH_ROWS:
                    product_imports.run_due()
                    db.session.refresh(job)
                    if job.state == IMPORT_DONE:
                        flash(f"Impor selesai: {job.created} produk baru, {job.updated} diperbarui.", "success")
                        return redirect(url_for("admin.product_list"))
                return redirect(url_for("admin.product_import_page", import_id=job.id))
    status = 422 if result and result.errors else 200
    return render_template("admin/product_import.html", result=result, columns=products.CSV_COLUMNS,
                           job=product_imports.active()), status


@bp.route("/products/import/<int:import_id>")
@admin_required
def product_import_page(import_id):
    job = db.get_or_404(ProductImport, import_id)
    return render_template("admin/product_import.html", result=None, columns=products.CSV_COLUMNS, job=job)


@bp.route("/products/import/<int:import_id>/progress")
@admin_required
def product_import_progress(import_id):
    """The progress component alone, polled by htmx until the import ends."""
    return render_template("admin/_product_import_progress.html", job=db.get_or_404(ProductImport, import_id))


@bp.route("/products/export.csv")
@admin_required
def product_export():
    return Response(stream_with_context(products.export_csv()), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=produk.csv"})


@bp.route("/users")
@admin_required
def user_list():
    users = db.session.scalars(db.select(User).order_by(User.role, User.username)).all()
    return render_template("admin/users.html", users=users)


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def user_new():
    error = None
    if request.method == "POST":
        form = request.form
        try:
            user = create_user(form.get("username", ""), form.get("role", ""),
                               display_name=form.get("display_name", ""),
                               password=form.get("password") or None, pin=form.get("pin") or None,
                               must_change_password=bool(form.get("password")))
        except AccountError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            audit.record("CreateUser", f"{user.username} ({user.role})")
            db.session.commit()
            flash(f"Pengguna {user.username} dibuat.", "success")
            return redirect(url_for("admin.user_list"))
    return render_template("admin/user_form.html", user=None, roles=ROLES, error=error), (422 if error else 200)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_edit(user_id):
    user = db.get_or_404(User, user_id)
    error = None
    if request.method == "POST":
        form = request.form
        try:
            if form.get("pin"):
                validate_pin(form["pin"])
                user.set_pin(form["pin"])
            if form.get("password"):
                validate_password(form["password"], user.username)
                user.set_password(form["password"])
                user.must_change_password = user.id != g.user.id
            active = form.get("active") == "1"
            if user.id == g.user.id and not active:
                raise AccountError("Anda tidak bisa menonaktifkan akun sendiri.")
            if active != user.active:  # deactivated: its sessions end; re-activated: old cookies stay dead
                user.end_sessions()
            user.active = active
            if user.id == g.user.id:  # a new PIN or password of one's own ends the other sessions only
                keep_session(user)
            user.display_name = form.get("display_name", "").strip()[:80] or user.display_name
        except AccountError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            audit.record("UpdateUser", user.username, detail=f"active={user.active}")
            db.session.commit()
            flash(f"Pengguna {user.username} disimpan.", "success")
            return redirect(url_for("admin.user_list"))
    return render_template("admin/user_form.html", user=user, roles=ROLES, error=error), (422 if error else 200)


@bp.route("/users/<int:user_id>/sessions/end", methods=["POST"])
@admin_required
def user_end_sessions(user_id):
    """"Keluar dari semua perangkat" for a user: every session of theirs ends, on every device. (For
    oneself the page posts to auth.end_my_sessions instead.)"""
    user = db.get_or_404(User, user_id)
    user.end_sessions()
    audit.record("EndSessions", user.username)
    db.session.commit()
    flash(f"{user.username} telah dikeluarkan dari semua perangkat.", "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/sales")
@admin_required
def sale_list():
    day_text = request.args.get("date", "")
    try:
        day = date.fromisoformat(day_text) if day_text else business_date()
    except ValueError:
        day = business_date()
        flash("Tanggal tidak valid; menampilkan hari ini.", "error")
    rows = db.session.scalars(
        db.select(Sale).where(Sale.business_date == day, Sale.status.in_([SALE_PAID, SALE_VOID]))
        .order_by(Sale.paid_at.desc())
    ).all()
    return render_template("admin/sales.html", sales_list=rows, day=day)


@bp.route("/sales/<int:sale_id>/void", methods=["GET", "POST"])
@admin_required
def sale_void(sale_id):
    sale = db.get_or_404(Sale, sale_id)
    error = None
    if request.method == "POST":
        try:
            sales.void_sale(sale.id, g.user, request.form.get("reason", ""))
        except sales.SaleError as exc:
            error = str(exc)
        else:
            flash(f"Transaksi {sale.display_number} dibatalkan; stok dikembalikan.", "success")
            return redirect(url_for("admin.sale_list", date=sale.business_date.isoformat()))
    return render_template("admin/sale_void.html", sale=sale, error=error), (422 if error else 200)


SHOP_LIMITS = {"shop_name": 60, "shop_address": 200, "shop_phone": 40, "receipt_footer": 200}
SHOP_LABELS = {"shop_name": "Nama toko", "shop_address": "Alamat", "shop_phone": "Telepon",
               "receipt_footer": "Catatan kaki struk"}


def _clean_shop_form(form) -> tuple[dict[str, str], dict[str, str]]:
    """(values, errors): markup and control characters go; a value over its limit is refused, not cut."""
    values = {key: plain_text(form.get(key, "")) for key in SHOP_DEFAULTS}
    errors = {key: f"{SHOP_LABELS[key]} paling banyak {SHOP_LIMITS[key]} karakter; sekarang {len(value)}."
              for key, value in values.items() if len(value) > SHOP_LIMITS[key]}
    if not values["shop_name"]:
        errors["shop_name"] = "Nama toko wajib diisi."
    return values, errors


@bp.route("/settings", methods=["GET", "POST"])
@admin_required
def shop_settings():
    if request.method == "POST":
        values, errors = _clean_shop_form(request.form)
        if errors:
            return settings_page(shop=values, shop_errors=errors)
        for key, value in values.items():
            set_setting(key, value)
        audit.record("SaveConfig", "shop")
        db.session.commit()
        merchant = merchant_identity()
        note = "" if merchant["name"] == values["shop_name"].upper() else \
            f" Di QR nama toko ditulis {merchant['name']} (QRIS maks. 25 karakter; ubah di Pengaturan Pembayaran)."
        flash("Pengaturan toko disimpan." + note, "success")
        return redirect(url_for("admin.shop_settings"))
    return settings_page()


def settings_page(limit_error: str | None = None, *, shop: dict[str, str] | None = None,
                  shop_errors: dict[str, str] | None = None):
    registers = db.session.scalars(db.select(Register).order_by(Register.code)).all()
    limits = request.form if limit_error else {
        key: value for role, limit in approvals.discount_limits().items()
        for key, value in ((f"discount_limit_percent_{role}", limit.percent),
                           (f"discount_limit_amount_{role}", limit.amount))
        if value is not None}
    width_mm = printer_settings().width_mm
    return render_template("admin/settings.html", shop=shop or shop_profile(), registers=registers, limits=limits,
                           limit_error=limit_error, errors=shop_errors or {}, shop_limits=SHOP_LIMITS,
                           width_mm=width_mm,
                           large_columns=COLUMNS.get(width_mm, COLUMNS[58]) // 2), \
        (422 if limit_error or shop_errors else 200)


@bp.route("/settings/discount-limits", methods=["POST"])
@admin_required
def discount_limits():
    """Per-role discount limits: a larger discount at the till needs a supervisor's approval."""
    try:
        saved = approvals.save_discount_limits(request.form)
    except ValueError as exc:
        db.session.rollback()
        return settings_page(str(exc))
    audit.record("SaveConfig", "discount_limits", detail=" ".join(
        f"{role}={limit.percent if limit.percent is not None else '-'}%"
        f"/{limit.amount if limit.amount is not None else '-'}"
        for role, limit in saved.items()))
    db.session.commit()
    flash("Batas diskon disimpan.", "success")
    return redirect(url_for("admin.shop_settings"))


@bp.route("/registers/<int:register_id>/display-link", methods=["POST"])
@admin_required
def new_display_link(register_id):
    """A fresh link for showing the customer display on another device; the old link stops working."""
    register = db.get_or_404(Register, register_id)
    register.display_token = secrets.token_urlsafe(24)
    audit.record("NewDisplayLink", register.name)
    db.session.commit()
    flash(f"Tautan layar pelanggan {register.name} dibuat; tautan lama tidak berlaku lagi.", "success")
    return redirect(url_for("admin.shop_settings"))


@bp.route("/printer", methods=["GET", "POST"])
@admin_required
def printer():
    error = None
    if request.method == "POST":
        try:
            saved = save_printer_settings(request.form)
        except PrinterError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            audit.record("SaveConfig", "printer", detail=f"url={saved.url} width={saved.width_mm} "
                                                        f"auto={saved.auto_print} drawer={saved.open_drawer}")
            db.session.commit()
            flash("Pengaturan printer disimpan.", "success")
            return redirect(url_for("admin.printer"))
    return render_template("admin/printer.html", printer=printer_settings(), form=request.form if error else None,
                           error=error, last_error=print_queue.last_error(),
                           last_printed_at=print_queue.last_printed_at()), (422 if error else 200)


@bp.route("/printer/test", methods=["POST"])
@admin_required
def printer_test():
    settings = printer_settings()
    try:
        print_queue.print_test_page(settings)
    except PrinterError as exc:
        audit.record("TestPrinter", settings.url, outcome="error", detail=str(exc))
        flash(f"Tes cetak gagal: {exc}", "error")
    else:
        audit.record("TestPrinter", settings.url)
        flash("Halaman tes dikirim ke printer.", "success")
    db.session.commit()
    return redirect(url_for("admin.printer"))
