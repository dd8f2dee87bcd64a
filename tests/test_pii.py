import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.pii_score import SETS, load, masked_ranges, report, score
from data_prep.pii import PLACEHOLDER, id_card_valid, luhn_valid, mask, spans

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("text,expected,kind", [
    ("我电话13800138000哦", "我电话<PHONE>哦", "phone"),
    ("call 138-0013-8000", "call <PHONE>", "phone"),
    ("call +86 138 0013 8000 now", "call <PHONE> now", "phone"),
    ("call +44 20 7946 0958", "call <PHONE>", "phone"),
    ("身份证11010519491231002X", "身份证<ID>", "id_card"),
    ("卡号4111 1111 1111 1111", "卡号<CARD>", "bank_card"),
    ("4111111111111111", "<CARD>", "bank_card"),
    ("mail me: lin.xia+1@example.com.", "mail me: <EMAIL>.", "email"),
    ("看这个 https://example.com/a?b=1 哈哈", "看这个 <URL> 哈哈", "url"),
    ("www.example.cn，好看", "<URL>，好看", "url"),
    ("server 10.0.12.7 down", "server <IP> down", "ip"),
    ("我QQ号：123456789", "我QQ号：<QQ>", "qq"),
    ("你加我QQ吧：2357111317", "你加我QQ吧：<QQ>", "qq"),
    ("加我微信号：lin_xia01 吧", "加我微信号：<WXID> 吧", "wechat_id"),
    ("wxid_abc12345 说", "<WXID> 说", "wechat_id"),
])
def test_masks_each_type(text, expected, kind):
    counts = Counter()
    assert mask(text, counts) == expected
    assert counts == Counter({kind: 1})


@pytest.mark.parametrize("text", [
    "订单号20240101123456",            # 14 digits, fails Luhn, not a phone
    "11010519491231002Y",              # wrong check char
    "110105194912310021",              # 18 digits, bad checksum, bad Luhn
    "4111111111111112",                # fails Luhn
    "version 1.2.3 is out",            # not an IP
    "I have 3 cats and 12345 stars",   # short numbers
    "哈哈哈[旺柴]~",
])
def test_leaves_non_personal_numbers(text):
    counts = Counter()
    assert mask(text, counts) == text
    assert not counts


def test_checksums():
    assert id_card_valid("11010519491231002X")
    assert not id_card_valid("110105194912310021")
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_counts_accumulate():
    counts = Counter()
    mask("13800138000 and 13900139000, a@b.co", counts)
    assert counts == Counter({"phone": 2, "email": 1})


# ---------------------------------------------------------------------------------------------- labelled sets
@pytest.mark.parametrize("name", ["main.jsonl", "heldout.jsonl", "fresh.jsonl"])
def test_labelled_set_meets_recall_and_false_positive_targets(name):
    rows = load([SETS / name])
    sc = score(rows, spans)
    assert sc.positives >= 50 and sc.negatives >= 50, "the set is too small to measure anything"
    assert sc.recall >= 0.99, report(name, sc, listing=True)
    assert sc.fp_rate <= 0.01 and sc.extra_spans <= sc.positives // 100, report(name, sc, listing=True)
    for kind, n in sc.spans.items():
        assert sc.found[kind] / n >= 0.9, report(name, sc, listing=True)


def test_main_set_size_and_every_type_present():
    sc = score(load([SETS / "main.jsonl"]), spans)
    assert sc.positives >= 500 and sc.negatives >= 300
    assert set(sc.spans) == set(PLACEHOLDER)


def test_mask_replaces_exactly_the_spans_the_scorer_reads():
    for row in load(sorted(SETS.glob("*.jsonl"))):
        counts, out, at = Counter(), [], 0
        for start, end, kind in spans(row.text):
            out += (row.text[at:start], PLACEHOLDER[kind])
            at = end
        assert mask(row.text, counts) == "".join(out) + row.text[at:]
        assert sum(counts.values()) == len(spans(row.text))


def test_scorer_aligns_placeholders_of_an_older_masker():
    text = "call 13800138000 or mail a@b.co now"
    assert masked_ranges(text, "call <PHONE> or mail <EMAIL> now", PLACEHOLDER) == [(5, 16, "phone"),
                                                                                      (25, 31, "email")]


def test_scorer_catches_a_bad_masker():
    rows = load([SETS / "main.jsonl"])
    nothing = score(rows, lambda text: [])
    assert nothing.recall == 0 and nothing.fp_rate == 0
    everything = score(rows, lambda text: [(0, len(text), "phone")] if text else [])
    assert everything.fp_rate == 1 and everything.recall < 0.5


# ---------------------------------------------------------------------------------------------- tricky rules
def _kinds(text: str) -> list[tuple[str, str]]:
    return [(text[s:e], kind) for s, e, kind in spans(text)]


@pytest.mark.parametrize("text", ["v1.2.3.4", "版本号 2.0.1.5", "升级到v2.10.1.5了", "2.0.1.5版",
                                  "release 4.2.1.0 is live", "1.2.3.4.5", "256.1.1.1"])
def test_dotted_versions_are_not_ips(text):
    assert spans(text) == []


def test_dotted_quads_are_ips_without_version_words():
    assert _kinds("ip是192.168.1.100") == [("192.168.1.100", "ip")]
    assert _kinds("server 10.0.12.7 down, ver 2 soon") == [("10.0.12.7", "ip")]


def test_id_numbers_need_their_check_digit_and_a_real_birth_date():
    good = "11010519491231002X"
    assert _kinds(f"身份证{good}") == [(good, "id_card")]
    assert _kinds("身份证11010519491231002x") == [("11010519491231002x", "id_card")]
    assert spans("11010519491231002Y") == [] and spans("110105194912310021") == []
    assert not id_card_valid("110105194913310025")            # month 13, whatever the check digit
    # 15-digit numbers (issued before 1999): province + a valid 19YYMMDD date
    assert _kinds("老身份证110105491231002") == [("110105491231002", "id_card")]
    assert spans("序列号 110105491331002") == []              # month 13
    assert spans("批次号 202312011230456") == []              # no province 20


def test_a_mistyped_id_number_is_not_taken_for_a_card_even_when_luhn_passes():
    prefix = "62010219900101123"                              # Gansu, born 1990-01-01; 62 is also UnionPay's prefix
    mistyped = next(prefix + c for c in "0123456789" if luhn_valid(prefix + c) and not id_card_valid(prefix + c))
    assert spans(mistyped) == []
    assert _kinds("卡号6222021001123456789") == [("6222021001123456789", "bank_card")]  # a card of the same family


def test_cards_need_luhn_and_a_card_prefix():
    assert _kinds("卡 6217 0028 7001 2345 672") == [("6217 0028 7001 2345 672", "bank_card")]
    assert spans("卡 6217 0028 7001 2345 670") == []          # Luhn fails
    assert spans("条码 6901234567892") == []                   # EAN-13 passes Luhn, but 13 digits is a Visa length
    assert spans("订单号 6222021001123456789") == []          # a Luhn-valid number called an order number


@pytest.mark.parametrize("text,value", [
    ("我的号是+8615921876543", "+8615921876543"), ("电话+8613812345678", "+8613812345678"),
    ("0086-13765432109 我妈", "0086-13765432109"), ("(+86)13699887766 找王师傅", "(+86)13699887766"),
    ("号：1 3 8 1 2 3 4 5 6 7 8", "1 3 8 1 2 3 4 5 6 7 8"), ("号码是138.1234.5678", "138.1234.5678"),
    ("电话：１３８１２３４５６７８", "１３８１２３４５６７８"), ("手机 8613912345678", "8613912345678"),
    ("reach me on +86(0)13812345678", "+86(0)13812345678"),
])
def test_mobiles_in_many_writings(text, value):
    assert _kinds(text) == [(value, "phone")]


def test_mobile_prefixes_and_groupings():
    assert spans("12345678901") == [] and spans("10987654321") == []   # no 123 / 109 mobile prefix
    assert spans("1-800-123-4567") == []                               # digits of a 180 mobile, but US toll-free
    assert [k for _, k in _kinds("13711112222 13733334444")] == ["phone", "phone"]


@pytest.mark.parametrize("text,value", [
    ("公司电话010-62345678", "010-62345678"), ("座机(027)26008295，白天有人", "(027)26008295"),
    ("（０１０）６２３４５６７８", "（０１０）６２３４５６７８"), ("电话：0898-6543210", "0898-6543210"),
    ("座机 62345678", "62345678"), ("我家电话8765432", "8765432"), ("tel: +86 10 6234 5678", "+86 10 6234 5678"),
    ("你打这个座机02584561234", "02584561234"),
])
def test_landlines(text, value):
    assert _kinds(text) == [(value, "landline")]
    counts = Counter()
    assert "<LANDLINE>" in mask(text, counts) and counts == Counter({"landline": 1})


@pytest.mark.parametrize("text", ["62345678", "02584561234", "学号 20231234", "电话会议定在 20240115",
                                  "电话 1010 9777", "客服热线400-820-8820", "打10086问问", "95588"])
def test_numbers_that_are_not_landlines(text):
    assert spans(text) == []


def test_a_landline_right_after_a_mobile():
    assert _kinds("电话：138 1234 5678 0755-2345 6789") == [("138 1234 5678", "phone"), ("0755-2345 6789", "landline")]


def test_hong_kong_uk_us_numbers():
    assert _kinds("香港手机9123 4567") == [("9123 4567", "phone")]
    assert _kinds("香港办公室电话2345 6789") == [("2345 6789", "landline")]
    assert _kinds("UK mobile 07700 900123") == [("07700 900123", "phone")]
    assert _kinds("call me at (415) 555-0132") == [("(415) 555-0132", "phone")]
    assert _kinds("我外婆家座机0797-8234567") == [("0797-8234567", "landline")]  # 07… but a mainland area code


@pytest.mark.parametrize("text,value", [
    ("扣扣654321987，晚上在线", "654321987"), ("Q号：10203040", "10203040"), ("my QQ is 1234509876", "1234509876"),
    ("扣扣号码3987654321", "3987654321"), ("QQ13800138000（我手机号注册的）", "13800138000"),
    ("q2024111222，备注同学", "2024111222"), ("QQ号 1234 5678 90", "1234 5678 90"),
])
def test_qq_numbers_after_the_words_people_use(text, value):
    assert _kinds(text) == [(value, "qq")]


@pytest.mark.parametrize("text", ["Q1 2024 营收 12345 万", "Q3 目标 1000000", "QQ飞车等级 58", "订单号码 62345678"])
def test_numbers_near_q_words_that_are_not_qq(text):
    assert spans(text) == []


@pytest.mark.parametrize("text,value", [
    ("vx:linxia0801", "linxia0801"), ("V信：zhang-san-2020", "zhang-san-2020"), ("wx号lixiaolong123", "lixiaolong123"),
    ("WeChat: jenny_chen99", "jenny_chen99"), ("加她微信meimei_1996", "meimei_1996"),
    ("微信号：linxia 吧", "linxia"), ("my wechat is david_zh88", "david_zh88"), ("微信搜tea_house88", "tea_house88"),
])
def test_wechat_ids_after_the_words_people_use(text, value):
    assert _kinds(text) == [(value, "wechat_id")]


def test_wechat_words_without_an_id():
    assert spans("my wechat is broken lol") == []     # a plain word after a weak lead is not an id
    assert spans("微信说吧") == [] and spans("vx聊") == []
    assert _kinds("vx13312345678") == [("13312345678", "phone")]
    assert _kinds("微信13812345678，搜手机号就行") == [("13812345678", "phone")]


def test_urls_and_emails_glued_to_chinese():
    assert mask("看这个https://example.com/a?b=1哈哈", Counter()) == "看这个<URL>哈哈"
    assert mask("我在zhihu.com/question/123456问了", Counter()) == "我在<URL>问了"
    assert mask("邮箱是lin_xia@example.com谢谢", Counter()) == "邮箱是<EMAIL>谢谢"
    assert mask("here: (https://example.com/x).", Counter()) == "here: (<URL>)."
    for name in ("main.py", "README.md", "Node.js", "ASP.NET", "report.docx", "e.g. this"):
        assert spans(name) == [], name


def test_fast_path_leaves_plain_chat_alone():
    for text in ("今天好累啊", "哈哈哈[旺柴]~", "ok see you at 7", "I think we should have dinner"):
        counts = Counter()
        assert mask(text, counts) == text and not counts


# ---------------------------------------------------------------------------------------------- the mask command
def test_mask_command_masks_stdin_line_by_line():
    stdin = "我电话13812345678\r\nvx:linxia0801 和 v1.2.3.4\n\n没什么\n"
    r = subprocess.run([sys.executable, "-m", "data_prep", "mask"], input=stdin.encode(), capture_output=True,
                       cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode() == "我电话<PHONE>\r\nvx:<WXID> 和 v1.2.3.4\n\n没什么\n"
    assert "phone 1" in r.stderr.decode() and "wechat_id 1" in r.stderr.decode()
