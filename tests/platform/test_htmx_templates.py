"""The templates' htmx attributes, read as htmx reads them: it inherits them from any ancestor."""
from html.parser import HTMLParser

from support.config import PROJECT_ROOT

REQUESTS = ("hx-get", "hx-post", "hx-put", "hx-patch", "hx-delete")
# Attributes whose value means something where it is written (outerHTML of the target, "find button"
# below the element): inherited by a request further down, they act on the wrong element.
PLACE_BOUND = ("hx-swap", "hx-target", "hx-disabled-elt")
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class InheritedAttributes(HTMLParser):
    """Elements that send a request and inherit a PLACE_BOUND attribute from an element around them."""

    def __init__(self, name: str):
        super().__init__()
        self.name, self.open, self.found = name, [], []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if any(name in attributes for name in REQUESTS):
            for name in PLACE_BOUND:
                parent = next((parent for parent in reversed(self.open) if name in parent[1]), None)
                if name not in attributes and parent is not None:
                    self.found.append(f"{self.name}:{self.getpos()[0]} <{tag}> inherits {name}="
                                      f"{parent[1][name]!r} from <{parent[0]}>")
        if tag not in VOID:
            self.open.append((tag, attributes))

    def handle_endtag(self, tag):
        for depth in range(len(self.open) - 1, -1, -1):
            if self.open[depth][0] == tag:
                del self.open[depth:]
                break


def test_no_request_inherits_a_swap_target_or_disabled_element_from_around_it():
    # An inherited outerHTML swapped the scan box's search over #products itself, and "Perbarui QR" over
    # #modal: every later request aimed at the element that was replaced then failed in the page.
    found = []
    for path in sorted((PROJECT_ROOT / "templates").rglob("*.html")):
        parser = InheritedAttributes(str(path.relative_to(PROJECT_ROOT)))
        parser.feed(path.read_text())
        found += parser.found
    assert found == []
