import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlsxcheck.values import normalize, parse, parse_indicator


@pytest.mark.parametrize("raw, value", [
    (981.22, 981.22), ("1000万元", 1000.0), (" 981.22 ", 981.22), ("50万", 50.0), ("1,234.5", 1234.5), ("约2.68", 2.68),
])
def test_amounts_as_written(raw, value):
    p = parse("amount", raw)
    assert (p.status, p.value, p.tol) == ("ok", value, 0.005)


@pytest.mark.parametrize("raw", ["3243..37", "98%1", "十万", "#DIV/0!"])
def test_unparseable_amount_is_invalid_not_nan_or_zero(raw):
    p = parse("amount", raw)
    assert p.status == "invalid" and p.value is None


@pytest.mark.parametrize("raw", [None, "", "　", "—", "/", "*", "-"])
def test_blank_spellings(raw):
    assert parse("amount", raw).status == "blank"


@pytest.mark.parametrize("raw, fraction, tol", [
    ("89%", 0.89, 0.005), (0.89, 0.89, 0.005), (0.8920, 0.892, 0.0005), (89, 0.89, 0.005), ("177.78%", 1.7778, 0.00005), ("100%", 1.0, 0.005),
    ("１００％", 1.0, 0.005), (1, 1.0, 0.005),
])
def test_rates_in_all_spellings(raw, fraction, tol):
    p = parse("rate", raw)
    assert p.status == "ok"
    assert p.value == pytest.approx(fraction)
    assert p.tol == pytest.approx(tol)


@pytest.mark.parametrize("raw, day", [
    ("2024.4.15", dt.date(2024, 4, 15)), ("2024年4月15日", dt.date(2024, 4, 15)), ("2024-04-15", dt.date(2024, 4, 15)),
    ("2024/4/15", dt.date(2024, 4, 15)), (45397, dt.date(2024, 4, 15)), (dt.datetime(2024, 4, 15, 9), dt.date(2024, 4, 15)),
])
def test_dates_in_all_spellings(raw, day):
    assert parse("date", raw).value == day


def test_impossible_date_is_invalid():
    assert parse("date", "2024.2.30").status == "invalid"


@pytest.mark.parametrize("raw, cmp, number, unit, status", [
    ("≥360人", ">=", 360.0, "人", "ok"), ("≤4小时", "<=", 4.0, "小时", "ok"), ("≥95%", ">=", 95.0, "%", "ok"),
    ("50处", None, 50.0, "处", "ok"), ("约2.68万平方米", None, 2.68, "万平方米", "ok"), ("不低于90%", ">=", 90.0, "%", "ok"),
    ("长期", None, None, "", "qualitative"), ("验收合格即支付", None, None, "", "qualitative"),
    ("2023年12月份", None, None, "", "qualitative"), ("98%1", None, None, "", "invalid"), ("　", None, None, "", "blank"),
])
def test_indicator_values(raw, cmp, number, unit, status):
    t = parse_indicator(raw)
    assert (t.comparator, t.number, t.unit, t.status) == (cmp, number, unit, status)


def test_every_comparator_spelling_is_read_before_a_number():
    from xlsxcheck.values import _COMPARATORS

    got = {word: (parse_indicator(f"{word}90%").comparator, parse_indicator(f"{word} 90%").number) for word, _ in _COMPARATORS}
    assert got == {word: (op, 90.0) for word, op in _COMPARATORS}


def test_normalize_folds_fullwidth_and_space():
    assert normalize("其中：当年财政拨款　") == "其中:当年财政拨款"
    assert normalize("满意度指标（10分") == "满意度指标(10分"


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("kind", ["amount", "rate", "score", "count"])
def test_nan_and_inf_numbers_are_not_values(kind, raw):
    from xlsxcheck.values import parse

    assert parse(kind, raw).status == "invalid"


def test_nan_indicator_value_is_invalid():
    assert parse_indicator(float("nan")).status == "invalid"


# Characters label_form() acts on or keeps, full-width and half-width, with words it removes
# or keeps, and white space: texts made of them hit every branch of it.
_LABEL_PIECES = ["(", ")", "（", "）", "[", "]", "【", "】", "〔", "〕", "<", ">", "《", "》", "＜", "＞", ":", "：", "其中", "其",
                 "1", "2", "１", "0", "一", "三", "十", "、", ".", "．", "分", "万元", "元", "A", "b", "/", "%", "×", " ", "\u3000",
                 "\n", "年度资金总额", "执行率", "偏差原因", "完成", "≥", "95"]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_LABEL_PIECES), max_size=8).map("".join))
def test_label_form_of_a_text_it_cannot_change_is_the_text(text):
    """The short cut for texts label_form() leaves as they are (no numbering, 其中 or colon at
    the start, no bracket, no colon at the end) gives what the whole of it gives."""
    from xlsxcheck.values import _label_form_of, _label_form_str, _normalize_str

    assert _label_form_str(text) == _label_form_of(_normalize_str(text))


def test_label_form_of_labels_and_sample_texts_unchanged_by_the_short_cut():
    import openpyxl
    from conftest import SAMPLES

    from xlsxcheck.extract import template
    from xlsxcheck.plans import _labels
    from xlsxcheck.values import _label_form_of, _label_form_str, _normalize_str

    texts = set(_labels(template()))  # every label of every template
    for path in sorted(SAMPLES.glob("*.xlsx")):
        for ws in openpyxl.load_workbook(path, read_only=True).worksheets:
            texts.update(v for row in ws.iter_rows(values_only=True) for v in row if isinstance(v, str))
    assert len(texts) > 500
    assert [t for t in texts if _label_form_str(t) != _label_form_of(_normalize_str(t))] == []
