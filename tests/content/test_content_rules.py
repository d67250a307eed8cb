"""Pure content rules: HTML sanitising, plain text for search, WCAG contrast, the word filter."""

from __future__ import annotations

import pytest

from domain.content import WordFilter, contrast_problems, contrast_ratio, plain_text, sanitise_article_body


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("<p>正文<script>alert(1)</script></p>", "<p>正文</p>"),
        ('<p style="color:red" onmouseover="x()">正文</p>', "<p>正文</p>"),
        ('<a href="javascript:alert(1)">链接</a>', '<a rel="noopener noreferrer">链接</a>'),
        ('<img src="data:image/png;base64,AAAA" alt="图">', '<img alt="图">'),
        (
            '<img src="https://static.hospital.example/a.png" alt="图">',
            '<img src="https://static.hospital.example/a.png" alt="图">',
        ),
        ("<iframe src='https://evil.example'></iframe><form><input></form><p>留下</p>", "<p>留下</p>"),
        ("<style>p { display: none }</style><h2>标题</h2>", "<h2>标题</h2>"),
        ("<svg><script>alert(1)</script></svg>文字", "文字"),
    ],
)
def test_no_script_survives_sanitising(given: str, stored: str) -> None:
    assert sanitise_article_body(given) == stored


def test_plain_text_keeps_words_apart_across_blocks() -> None:
    assert (
        plain_text("<p>高血压</p><p>糖尿病 &amp; 痛风</p><ul><li>一</li><li>二</li></ul>")
        == "高血压 糖尿病 & 痛风 一 二"
    )


@pytest.mark.parametrize(
    ("foreground", "background", "ratio"),
    [
        ("#000000", "#FFFFFF", 21.0),
        ("#FFFFFF", "#FFFFFF", 1.0),
        ("#767676", "#FFFFFF", 4.54),
        ("#777777", "#FFFFFF", 4.48),
    ],
)
def test_contrast_ratio_matches_wcag(foreground: str, background: str, ratio: float) -> None:
    assert contrast_ratio(foreground, background) == pytest.approx(ratio, abs=0.01)
    assert contrast_ratio(background, foreground) == pytest.approx(ratio, abs=0.01)


def test_contrast_problems_name_each_pair_below_4_5() -> None:
    tokens = {
        "text": "#777777",
        "background": "#FFFFFF",
        "surface": "#FFFFFF",
        "onPrimary": "#FFFFFF",
        "primary": "#000000",
    }
    assert [(p.foreground, p.background) for p in contrast_problems(tokens)] == [
        ("text", "background"),
        ("text", "surface"),
    ]
    assert contrast_problems({**tokens, "text": "#767676"}) == []


def test_the_word_filter_sees_through_spacing_case_and_width() -> None:
    words = WordFilter(["红包", "WeChat", "加微信"])
    assert words.blocked_words_in("给您发个 红 包") == ["红包"]
    assert words.blocked_words_in("ＷＥＣＨＡＴ: abc") == ["wechat"]
    assert words.blocked_words_in("加-微-信，加微信") == ["加微信"]
    assert words.blocked_words_in("医德高尚，妙手回春") == []
