"""XML as quick-xml (calamine's parser) reads it: the tag scanner and attribute helpers the xlsx and ods
measures share."""

from __future__ import annotations

import re

# A start tag runs to its first `>` outside quotes (`x="a>b"` does not end it), an end tag to its first `>`;
# comments, CDATA sections and processing instructions are opaque. Possessive throughout: a tag that never
# closes fails in linear time.
TAG_BODY = rb"""[^>"']*+(?:(?:"[^"]*+"|'[^']*+')[^>"']*+)*+"""
_OPAQUE = rb"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>"
_ATTR = re.compile(rb"""([^\s=<>"'/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
HAS_R = re.compile(rb"""(?:^|[\s"'])r\s*=""").search


def _scanner(elements: bytes, *, closings: bool) -> re.Pattern[bytes]:
    """A pattern for `findall` reading markup in document order, one tag of `elements` per match: groups
    ("/" of an end tag, the qualified name, the attributes up to `>` with a trailing "/" when empty, the
    rest). Everything before the tag (text, other tags, opaque sections) is skipped inside the match, so
    that a quoted attribute never starts a tag. Where neither a tag nor something to skip starts, the
    item is incomplete (cut by the chunk's end) or malformed: "the rest" takes everything from there, for
    the caller to carry to the next chunk. End tags of `elements` are reported when `closings`."""
    element = rb"(?:" + elements + rb")(?=[\s/>])"
    if closings:
        end_tags, wanted = rb"</(?!" + element + rb")[^>]*+>", rb"<(/?+)(" + element + rb")(" + TAG_BODY + rb")>"
    else:
        end_tags, wanted = rb"</[^>]*+>", rb"<()(" + element + rb")(" + TAG_BODY + rb")>"
    skip = rb"(?:[^<]++|" + end_tags + rb"|<(?![!?/]|" + element + rb")" + TAG_BODY + rb">|" + _OPAQUE + rb")++"
    return re.compile(rb"(?:" + skip + rb")?+(?:" + wanted + rb"|(<(?s:.)*+)|\Z)", re.DOTALL)


def _attributes(body: bytes) -> list[tuple[bytes, bytes]]:
    """(name, raw value) of every attribute of a tag, in order (a value is never searched for names)."""
    return [(name, a if a or not b else b) for name, a, b in _ATTR.findall(body)]


def _local(name: bytes) -> bytes:
    return name.rpartition(b":")[2]


def shown(raw: bytes, limit: int = 40) -> str:
    """A raw value as a message shows it, cut."""
    text = raw.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"
