"""Time helpers: store UTC, show WIB (Asia/Jakarta, +07:00, no daylight saving)."""
from datetime import date, datetime, timedelta, timezone

WIB = timezone(timedelta(hours=7), "WIB")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def to_wib(moment: datetime) -> datetime:
    return as_utc(moment).astimezone(WIB)


def business_date(moment: datetime | None = None) -> date:
    """The shop's calendar day (WIB) that a moment belongs to."""
    return to_wib(moment or utcnow()).date()


def format_wib(moment: datetime | None, pattern: str = "%d/%m/%Y %H:%M") -> str:
    return to_wib(moment).strftime(pattern) if moment else ""


def format_remaining(deadline: datetime | None, now: datetime | None = None) -> str:
    """"14:59" until `deadline`; "00:00" once it has passed."""
    if deadline is None:
        return ""
    seconds = max(0, int((as_utc(deadline) - (now or utcnow())).total_seconds()))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def wib_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the shop's calendar day `day` (WIB)."""
    start = datetime(day.year, day.month, day.day, tzinfo=WIB)
    return as_utc(start), as_utc(start + timedelta(days=1))


def format_duration(seconds: float | None) -> str:
    """How long something took, in Indonesian: "0,4 dtk", "45 dtk", "2 mnt 5 dtk", "1 jam 3 mnt"; "–" if unknown."""
    if seconds is None:
        return "–"
    if seconds < 10:
        return f"{seconds:.1f} dtk".replace(".", ",")
    whole = round(seconds)
    if whole < 60:
        return f"{whole} dtk"
    if whole < 3600:
        return f"{whole // 60} mnt {whole % 60} dtk"
    return f"{whole // 3600} jam {whole % 3600 // 60} mnt"
