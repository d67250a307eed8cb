"""Pure rules of the content side: article HTML, theme colours, the moderation word filter."""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import nh3

# What an article body may contain: text structure, emphasis, lists, quotes, tables, https images
# and links. No scripts, styles, event handlers, iframes or forms: everything else is dropped.
ARTICLE_TAGS = frozenset(
    {
        "p", "br", "h2", "h3", "h4", "strong", "b", "em", "i", "u", "sub", "sup", "ul", "ol", "li",
        "blockquote", "hr", "img", "a", "table", "thead", "tbody", "tr", "th", "td", "figure", "figcaption",
    }
)  # fmt: skip
ARTICLE_ATTRIBUTES = {"img": {"src", "alt", "width", "height"}, "a": {"href", "title"}, "td": {"colspan", "rowspan"}}
MAX_BODY_CHARS = 100_000


def sanitise_article_body(body: str) -> str:
    """The body with everything but the allowed tags and https addresses removed."""
    return nh3.clean(
        body,
        tags=set(ARTICLE_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ARTICLE_ATTRIBUTES.items()},
        url_schemes={"https"},
        strip_comments=True,
    ).strip()


_SPACES = re.compile(r"\s+")
_BLOCK_END = re.compile(r"</(p|h[1-6]|li|blockquote|tr|td|th|figcaption)>|<br\s*/?>", re.IGNORECASE)


def plain_text(markup: str) -> str:
    """Readable text of an HTML fragment (tags, scripts and styles gone, entities decoded)."""
    spaced = _BLOCK_END.sub(lambda m: m.group(0) + " ", markup)
    text = html.unescape(nh3.clean(spaced, tags=set(), clean_content_tags={"script", "style"}))
    return _SPACES.sub(" ", text).strip()


def search_text(*, title: str, summary: str, body: str) -> str:
    """What full-text search looks in: title, summary and the body's plain text."""
    return " ".join(part for part in (title.strip(), summary.strip(), plain_text(body)) if part)


# ---- theme colours -------------------------------------------------------------------------

_HEX = re.compile(r"#[0-9A-Fa-f]{6}")
MIN_CONTRAST = 4.5  # WCAG 2.x level AA for normal text; many patients are elderly

# (foreground, background) token pairs that carry text and must stay readable.
CONTRAST_PAIRS: tuple[tuple[str, str], ...] = (
    ("text", "background"),
    ("text", "surface"),
    ("textSecondary", "background"),
    ("textSecondary", "surface"),
    ("onPrimary", "primary"),
    ("primary", "surface"),
    ("accent", "surface"),
)
REQUIRED_TOKENS = frozenset(name for pair in CONTRAST_PAIRS for name in pair)


def is_hex_colour(value: str) -> bool:
    return _HEX.fullmatch(value) is not None


def _channel(value: int) -> float:
    c = value / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def relative_luminance(colour: str) -> float:
    """WCAG relative luminance of #RRGGBB."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * _channel(r) + 0.7152 * _channel(g) + 0.0722 * _channel(b)


def contrast_ratio(first: str, second: str) -> float:
    """WCAG contrast ratio of two #RRGGBB colours, from 1 to 21."""
    high, low = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@dataclass(frozen=True)
class ContrastProblem:
    foreground: str
    background: str
    ratio: float

    def describe(self) -> str:
        return f"{self.foreground}/{self.background} {self.ratio:.2f}:1"


def contrast_problems(tokens: Mapping[str, str]) -> list[ContrastProblem]:
    """Every text/background pair below MIN_CONTRAST (pairs with a missing token are skipped)."""
    problems = []
    for foreground, background in CONTRAST_PAIRS:
        if foreground in tokens and background in tokens:
            ratio = contrast_ratio(tokens[foreground], tokens[background])
            # Compared as displayed (two decimals), so 4.499 does not pass as "4.50".
            if round(ratio, 2) < MIN_CONTRAST:
                problems.append(ContrastProblem(foreground, background, ratio))
    return problems


# ---- moderation word filter ------------------------------------------------------------------


def _normalise(text: str) -> str:
    # Full-width letters become ASCII, case is ignored, and spaces or punctuation put between the
    # characters of a word ("红 包", "加-微-信") do not hide it.
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


class WordFilter:
    """Finds blocked words in patients' texts; the first step of moderation."""

    def __init__(self, words: Iterable[str]) -> None:
        self._words = sorted({w for w in (_normalise(word) for word in words) if w})

    def blocked_words_in(self, text: str) -> list[str]:
        normal = _normalise(text)
        return [word for word in self._words if word in normal]
