"""QR codes as inline SVG (segno): crisp at any size, no image files, no network."""
from functools import lru_cache

import segno
from markupsafe import Markup


@lru_cache(maxsize=128)
def qr_svg(payload: str, title: str = "QRIS") -> Markup:
    # Error level H survives a scratched or glare-covered screen; the size comes from CSS (viewBox only).
    code = segno.make(payload, error="h", micro=False, boost_error=False)
    svg = code.svg_inline(scale=1, border=3, dark="#000", light="#fff", omitsize=True, title=title,
                          svgclass="qr-svg", lineclass=None)
    return Markup(svg)
