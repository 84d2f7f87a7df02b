"""Traditional and Simplified Chinese, and Japanese width and prolonged-sound-mark variants, fold
to one form at index and query time: each spelling finds the product written in the other, on a
real tantivy index. (The Elasticsearch analyzers' equivalent is pinned in
tests/search/test_elastic_analysis.py.)"""

from __future__ import annotations

import re

import pytest

from catalog.analysis import analyze
from catalog.script_folding import (
    FINAL_LONG_VOWEL_PATTERN,
    LONG_VOWEL_PATTERN,
    fold_han,
    fold_kana,
)
from search.recall.embedded.backend import EmbeddedRecall
from tests.conftest import make_product

# (Traditional, Simplified): the two, and more of what Taiwan and Hong Kong shops sell.
HAN_PAIRS = [
    ("耳機", "耳机"),
    ("咖啡機", "咖啡机"),
    ("藍牙耳機", "蓝牙耳机"),
    ("電動牙刷", "电动牙刷"),
    ("吹風機", "吹风机"),
    ("筆記型電腦", "笔记型电脑"),
    ("無線鍵盤", "无线键盘"),
    ("保溫杯", "保温杯"),
    ("電熱水壺", "电热水壶"),
    ("運動鞋", "运动鞋"),
]
# Japanese spellings of one word: width (NFKC) and prolonged sound mark variants.
KANA_VARIANTS = [
    ("ラーメン", ["ﾗｰﾒﾝ", "ラ-メン", "ラ～メン", "ラ〜メン", "ラ－メン", "ラ—メン"]),
    ("コンピュータ", ["コンピューター", "ｺﾝﾋﾟｭｰﾀｰ", "コンピュ-タ-"]),
    ("コーヒーメーカー", ["コーヒーメーカ", "ｺｰﾋｰﾒｰｶｰ", "コ～ヒ～メ～カ～"]),
    ("スーパー", ["スーパ", "ｽｰﾊﾟｰ"]),
    ("USBケーブル", ["ＵＳＢケーブル", "ＵＳＢｹｰﾌﾞﾙ"]),
]


@pytest.mark.parametrize(("traditional", "simplified"), HAN_PAIRS)
def test_traditional_and_simplified_analyse_to_the_same_terms(
    traditional: str, simplified: str
) -> None:
    assert fold_han(traditional) == fold_han(simplified) == simplified
    assert analyze(traditional, "zh-TW") == analyze(simplified, "zh-CN")


@pytest.mark.parametrize(("canonical", "variants"), KANA_VARIANTS)
def test_japanese_width_and_long_vowel_variants_analyse_alike(
    canonical: str, variants: list[str]
) -> None:
    for variant in variants:
        assert analyze(variant, "ja-JP") == analyze(canonical, "ja-JP"), variant


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ケーブル-2m", "ケーブル-2m"),  # a dash before a digit stays a separator
        ("1〜3個", "1〜3個"),  # a range between digits is not a long vowel
        ("ABC-DEF", "ABC-DEF"),
        ("コーヒー", "コーヒ"),  # a katakana word of four or more loses its final mark
        ("ケー", "ケー"),  # ... a shorter one keeps it
        ("らーめん", "らーめん"),  # hiragana keeps it
        ("コーヒー豆", "コーヒ豆"),
    ],
)
def test_only_marks_after_kana_fold(text: str, folded: str) -> None:
    assert fold_kana(text) == folded


def test_the_patterns_compile_alike_for_python_and_java() -> None:
    # Elasticsearch (Java) reads them as they are: no Python-only syntax (named groups,
    # variable-width lookbehind, \d meaning Unicode digits).
    for pattern in (LONG_VOWEL_PATTERN, FINAL_LONG_VOWEL_PATTERN):
        assert "(?P" not in pattern and r"\d" not in pattern
        re.compile(pattern)


@pytest.fixture(scope="module")
def cjk_index(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedRecall:
    recall = EmbeddedRecall(tmp_path_factory.mktemp("script-folding") / "index")
    products = [
        make_product(id=f"tw-{n}", locale="zh-TW", title=f"{traditional} 旗艦款",
                     brand="品牌", category="家電", description="", bullets=[])
        for n, (traditional, _) in enumerate(HAN_PAIRS)
    ] + [
        make_product(id=f"cn-{n}", locale="zh-CN", title=f"{simplified} 新款",
                     brand="品牌", category="家电", description="", bullets=[])
        for n, (_, simplified) in enumerate(HAN_PAIRS)
    ] + [
        make_product(id=f"jp-{n}", locale="ja-JP", title=canonical, brand="ブランド",
                     category="雑貨", description="", bullets=[])
        for n, (canonical, _) in enumerate(KANA_VARIANTS)
    ]  # fmt: skip
    recall.index(products)
    return recall


@pytest.mark.parametrize("n", range(len(HAN_PAIRS)))
def test_each_script_finds_the_product_written_in_the_other(
    cjk_index: EmbeddedRecall, n: int
) -> None:
    traditional, simplified = HAN_PAIRS[n]
    for query, wanted in ((simplified, f"tw-{n}"), (traditional, f"cn-{n}")):
        found = [hit.product.id for hit in cjk_index.search(query, limit=5)]
        assert wanted in found[:2], (query, found)


@pytest.mark.parametrize("n", range(len(KANA_VARIANTS)))
def test_each_japanese_variant_finds_the_product(cjk_index: EmbeddedRecall, n: int) -> None:
    for variant in KANA_VARIANTS[n][1]:
        found = [hit.product.id for hit in cjk_index.search(variant, limit=3)]
        assert found[:1] == [f"jp-{n}"], (variant, found)
