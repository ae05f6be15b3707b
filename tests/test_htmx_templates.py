"""The templates' htmx attributes, read as htmx reads them (it inherits hx-swap from any ancestor)."""
from html.parser import HTMLParser

from conftest import PROJECT_ROOT

REQUESTS = ("hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class InheritedSwaps(HTMLParser):
    """Elements that send a request without an hx-swap of their own, inside one that has an hx-swap."""

    def __init__(self, name: str):
        super().__init__()
        self.name, self.open, self.found = name, [], []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        swapping = [(parent, swap) for parent, swap in self.open if swap is not None]
        if swapping and "hx-swap" not in attributes and any(name in attributes for name in REQUESTS):
            parent, swap = swapping[-1]
            self.found.append(f"{self.name}:{self.getpos()[0]} <{tag}> inherits hx-swap={swap!r} from <{parent}>")
        if tag not in VOID:
            self.open.append((tag, attributes.get("hx-swap")))

    def handle_endtag(self, tag):
        for depth in range(len(self.open) - 1, -1, -1):
            if self.open[depth][0] == tag:
                del self.open[depth:]
                break


def test_no_request_inherits_the_swap_of_an_element_around_it():
    # An inherited outerHTML swapped the scan box's search over #products itself, and "Perbarui QR" over
    # #modal: every later request aimed at the element that was replaced then failed in the page.
    found = []
    for path in sorted((PROJECT_ROOT / "templates").rglob("*.html")):
        parser = InheritedSwaps(str(path.relative_to(PROJECT_ROOT)))
        parser.feed(path.read_text())
        found += parser.found
    assert found == []
