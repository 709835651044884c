"""What a question asks for, read from its wording: the counted thing and the clause of a count."""

import re

from rag.answer.asked import count_clauses, counted_thing, unit_pattern


def test_the_counted_thing_follows_the_unit():
    assert counted_thing("行政复议案件?") == "行政复议案件"
    assert counted_thing("人大代表建议,办复率是多少?") == "人大代表建议"
    assert counted_thing("?") == ""


def test_a_count_reads_its_own_clause_or_the_one_a_bare_verb_continues():
    """The clause of each count; "无一起…" (none) is no count at all."""
    text = "全年收到行政复议申请218件,受理196件,复议前调解结案58件。"
    got = {m.group(0): clause for m, clause in count_clauses(text, re.compile(unit_pattern("件")))}
    assert got["218件"] == "全年收到行政复议申请218件,"
    assert got["196件"] == "全年收到行政复议申请218件,受理196件,"  # 受理 counts the 申请 before it
    assert got["58件"] == "复议前调解结案58件。"
    neg = count_clauses("全年办理行政处罚案件37宗,无一宗被复议纠错。", re.compile(unit_pattern("件")))
    assert [c for _, c in neg] == ["全年办理行政处罚案件37宗,"]  # 无一宗 is none, no count of 复议


def test_a_verb_after_the_unit_is_no_counted_thing_and_a_count_is_no_money():
    from rag.answer.asked import ASKED_MONEY_RE, ASKED_UNIT_RE

    for q, thing in [("多少人参加了法治培训?", ""), ("多少个部门完成了清理?", ""),
                     ("下陆区2023年行政诉讼一审案件中涉企案件有多少件?", "涉企案件"),
                     ("永汉镇2021年办理了多少件行政复议案件?", "行政复议案件")]:
        m = ASKED_UNIT_RE.search(q)
        assert counted_thing(q[m.end():], q[:m.start()]) == thing, q
    assert not ASKED_MONEY_RE.search("补助多少人?") and not ASKED_MONEY_RE.search("罚款多少起?")
    assert ASKED_MONEY_RE.search("应急征用补偿资金总额是多少?")
