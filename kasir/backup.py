"""Backups of the SQLite database: online copies while the till serves, restore only while it is stopped.

A copy is made with SQLite's online backup API, which reads one consistent snapshot (committed WAL
pages included) even while sales are being written, then checked with `PRAGMA integrity_check`.
Copies live in `instance/backups/` as `kasir-YYYYMMDD-HHMMSS-<reason>.db` (WIB time), one file each.
PostgreSQL databases are backed up with pg_dump, not here.
"""
import re
import shutil
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import click
from alembic.script import ScriptDirectory
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import make_url

from .clock import WIB, business_date, utcnow
from .extensions import db
from .runtime import ServerAlreadyRunning, port_listening, server_lock

BACKUP_FOLDER = "backups"
BACKUP_NAME = re.compile(r"^kasir-(?P<stamp>\d{8}-\d{6})-(?P<reason>[a-z0-9-]+)\.db$")
PARTIAL_SUFFIX = ".partial"
PG_DUMP_HINT = ("Database ini PostgreSQL: cadangkan dengan pg_dump, misalnya "
                "`pg_dump --format=custom --file=kasir.dump \"$DATABASE_URL\"`, dan pulihkan dengan pg_restore.")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is meant for the shop owner."""


@dataclass(frozen=True)
class BackupFile:
    path: Path
    created_at: datetime  # UTC, from the WIB time in the name
    reason: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    @property
    def day(self) -> date:
        return business_date(self.created_at)


def backup_folder() -> Path:
    return Path(current_app.instance_path) / BACKUP_FOLDER


def is_sqlite() -> bool:
    return make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).get_backend_name() == "sqlite"


def database_path() -> Path:
    if not is_sqlite():
        raise BackupError(PG_DUMP_HINT)
    database = make_url(current_app.config["SQLALCHEMY_DATABASE_URI"]).database
    if not database or database == ":memory:":
        raise BackupError("Database SQLite di memori tidak bisa dicadangkan.")
    path = Path(database)
    # Flask-SQLAlchemy resolves a relative SQLite path against the instance folder.
    return path if path.is_absolute() else Path(current_app.instance_path) / path


def _parse(path: Path) -> BackupFile | None:
    match = BACKUP_NAME.match(path.name)
    if match is None:
        return None
    created = datetime.strptime(match["stamp"], "%Y%m%d-%H%M%S").replace(tzinfo=WIB)
    return BackupFile(path, created.astimezone(utcnow().tzinfo), match["reason"])


def list_backups() -> list[BackupFile]:
    """Kasir's backups, newest first (other files in the folder are left alone)."""
    folder = backup_folder()
    if not folder.is_dir():
        return []
    found = [backup for path in folder.iterdir() if path.is_file() and (backup := _parse(path))]
    return sorted(found, key=lambda backup: (backup.created_at, backup.name), reverse=True)


def find_backup(name: str) -> BackupFile | None:
    """A backup by file name, confined to the backups folder."""
    if BACKUP_NAME.match(name) is None:
        return None
    path = backup_folder() / name
    return _parse(path) if path.is_file() else None


def _new_backup_path(reason: str, moment: datetime) -> Path:
    reason = re.sub(r"[^a-z0-9]+", "-", reason.lower()).strip("-") or "manual"
    stem = f"kasir-{moment.astimezone(WIB):%Y%m%d-%H%M%S}-{reason}"
    folder = backup_folder()
    folder.mkdir(parents=True, exist_ok=True)
    path, attempt = folder / f"{stem}.db", 1
    while path.exists():
        attempt += 1
        path = folder / f"{stem}-{attempt}.db"
    return path


def integrity_problem(path: Path) -> str | None:
    """None when `PRAGMA integrity_check` passes, otherwise what SQLite reported."""
    try:
        with closing(sqlite3.connect(path)) as connection:
            rows = connection.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    messages = [row[0] for row in rows]
    return None if messages == ["ok"] else "; ".join(messages[:5])


def schema_revision(path: Path) -> str | None:
    """The Alembic revision a database file is at, or None when it has none."""
    try:
        with closing(sqlite3.connect(path)) as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return row[0] if row else None


def _migration_scripts() -> ScriptDirectory:
    return ScriptDirectory(current_app.extensions["migrate"].directory)


def upgrade_pending() -> bool:
    """True when an existing SQLite database is behind the migrations this code carries."""
    if not is_sqlite():
        return False
    database = database_path()
    revision = schema_revision(database) if database.exists() else None
    return revision is not None and revision not in _migration_scripts().get_heads()


def backup_before_upgrade() -> BackupFile | None:
    """A copy of the data as it was, taken before migrations change it."""
    return create_backup("pre-upgrade") if upgrade_pending() else None


def _online_copy(source: Path, target: Path) -> None:
    with closing(sqlite3.connect(source, timeout=30)) as reader, closing(sqlite3.connect(target)) as writer:
        reader.backup(writer)  # all pages in one step: one read transaction, one snapshot
        # A backup is a single self-contained file: no -wal beside it to forget when copying it away.
        writer.execute("PRAGMA journal_mode=DELETE")


def create_backup(reason: str = "manual") -> BackupFile:
    """Copy the live database into the backups folder and verify the copy. Safe while serving."""
    source = database_path()
    if not source.exists():
        raise BackupError(f"Database {source} belum ada; jalankan `python -m kasir db upgrade` dulu.")
    moment = utcnow()
    target = _new_backup_path(reason, moment)
    # Written under another name first, so a half-made copy never shows up as a backup.
    partial = target.with_name(target.name + PARTIAL_SUFFIX)
    try:
        _online_copy(source, partial)
        problem = integrity_problem(partial)
        if problem:
            raise BackupError(f"Salinan cadangan tidak lolos pemeriksaan integritas: {problem}")
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return _parse(target)


def prune_backups(keep_days: int) -> list[str]:
    """Delete backups older than `keep_days` days (and partial copies a crash left behind)."""
    cutoff = utcnow() - timedelta(days=keep_days)
    removed = []
    for backup in list_backups():
        if backup.created_at < cutoff:
            backup.path.unlink(missing_ok=True)
            Path(f"{backup.path}-wal").unlink(missing_ok=True)
            removed.append(backup.name)
    for partial in backup_folder().glob(f"*{PARTIAL_SUFFIX}"):
        if datetime.fromtimestamp(partial.stat().st_mtime, WIB) < utcnow() - timedelta(days=1):
            partial.unlink(missing_ok=True)
    return removed


def daily_backup() -> BackupFile | None:
    """The job runner's copy: at most one per WIB day, then old copies are pruned."""
    if not is_sqlite():
        return None  # PostgreSQL: pg_dump's job (the admin page says so)
    today = business_date()
    made = None
    if not any(backup.reason == "daily" and backup.day == today for backup in list_backups()):
        made = create_backup("daily")
    prune_backups(current_app.config["BACKUP_KEEP_DAYS"])
    return made


def _safety_copy(database: Path) -> BackupFile:
    """The current database exactly as it is (with its -wal, which may hold the latest commits)."""
    target = _new_backup_path("pre-restore", utcnow())
    shutil.copy2(database, target)
    wal = Path(f"{database}-wal")
    if wal.exists():
        shutil.copy2(wal, f"{target}-wal")
    return _parse(target)


def _verify_restorable(candidate: Path, original_name: str) -> None:
    problem = integrity_problem(candidate)
    if problem:
        raise BackupError(f"{original_name} rusak (integrity_check: {problem}); database tidak diganti.")
    revision = schema_revision(candidate)
    if revision is None:
        raise BackupError(f"{original_name} bukan cadangan Kasir (tidak ada versi skema); database tidak diganti.")
    if revision not in {script.revision for script in _migration_scripts().walk_revisions()}:
        raise BackupError(f"{original_name} dibuat oleh versi Kasir yang lebih baru (skema {revision}); "
                          "perbarui Kasir dulu (git pull), lalu ulangi.")


def restore_backup(source: Path) -> BackupFile | None:
    """Replace the database with a verified backup; returns the safety copy of the replaced one.

    Refused while a server uses this instance: its lock is taken for the whole swap, so none can start
    halfway. The server upgrades the restored database to the current schema when it starts.
    """
    database = database_path()
    if not source.is_file():
        raise BackupError(f"Berkas {source} tidak ada.")
    config = current_app.config
    instance = Path(current_app.instance_path)
    running = BackupError("Server Kasir masih berjalan. Hentikan dulu (Linux: systemctl --user stop kasir; "
                          "Windows: tutup jendela server), lalu ulangi.")
    if port_listening(config["HOST"], config["PORT"]):
        raise running
    try:
        with server_lock(instance):
            staging = database.with_name(database.name + ".restoring")
            try:
                try:
                    _online_copy(source, staging)  # folds a -wal beside the source in, if there is one
                except sqlite3.DatabaseError as exc:
                    raise BackupError(f"{source.name} bukan database SQLite yang valid ({exc}).") from None
                _verify_restorable(staging, source.name)
                db.engine.dispose()
                safety = _safety_copy(database) if database.exists() else None
                # The old -wal/-shm belong to the old file: SQLite would replay them into the restored one.
                for suffix in ("-wal", "-shm"):
                    Path(f"{database}{suffix}").unlink(missing_ok=True)
                staging.replace(database)
            finally:
                Path(f"{staging}-journal").unlink(missing_ok=True)
                staging.unlink(missing_ok=True)
    except ServerAlreadyRunning:
        raise running from None
    return safety


# --- command line -----------------------------------------------------------------------------------

@click.command("backup")
@click.option("--reason", default="manual", show_default=True, help="Word added to the file name.")
@click.option("--before-upgrade", is_flag=True,
              help="Only back up when migrations are pending (run by `make run` before `db upgrade`).")
@with_appcontext
def backup_command(reason, before_upgrade):
    """Copy the database into instance/backups/ (safe while the server runs)."""
    try:
        made = backup_before_upgrade() if before_upgrade else create_backup(reason)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if made:
        click.echo(f"Cadangan dibuat: {made.path} ({made.size:,} byte)".replace(",", "."))


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def restore_command(file, yes):
    """Replace the database with FILE (a path, or a name in instance/backups/). The server must be stopped."""
    if not file.exists() and (backup_folder() / file.name).is_file():
        file = backup_folder() / file.name
    if not yes:
        click.confirm(f"Ganti database sekarang dengan {file}?", abort=True)
    try:
        safety = restore_backup(file)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Database dipulihkan dari {file}.")
    if safety:
        click.echo(f"Database sebelumnya disimpan sebagai {safety.path}.")
    click.echo("Jalankan server lagi (python -m kasir serve); skema diperbarui otomatis bila perlu.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)
