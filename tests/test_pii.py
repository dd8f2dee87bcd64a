from collections import Counter

import pytest

from data_prep.pii import id_card_valid, luhn_valid, mask


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
