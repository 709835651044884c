"""Follow-ups without a language model: the previous question's place, year or aspect slot is
replaced by what the follow-up says; chains keep their topic; new questions stay as they are."""

from __future__ import annotations

import pytest

from rag.answer.followup import condense_without_llm
from rag.text.tokenize import Tokenizer

WORDS = Tokenizer().words

DIALOGUES = [  # (earlier questions, follow-up, what the rewrite must say, what it must not)
    (["陕西要求哪年前建成“两法衔接”平台?"], "那宁夏呢?", ["宁夏", "两法衔接", "哪年前"], ["陕西"]),
    (["武清区2019年行政复议纠错率是多少?"], "2020年呢?", ["武清区", "2020年", "纠错率"], ["2019"]),
    (["宁安市2020年办理了多少件人大代表建议和政协委员提案?"], "那嘉定区2021年呢?",
     ["嘉定区", "2021年", "人大代表建议"], ["宁安", "2020"]),
    (["雷山县丹江镇2023年培育了多少名“法律明白人”?"], "东城街道呢?", ["东城街道", "法律明白人"], ["丹江镇", "雷山"]),
    (["岳阳县规范涉企行政检查是哪个单位牵头?"], "那责任单位有哪些?", ["岳阳县", "涉企行政检查", "责任单位"], []),
    (["中阳县整合执法队伍由哪个单位牵头?", "配合单位有哪些?"], "什么时候前完成?",
     ["中阳县", "整合执法队伍", "什么时候"], ["配合单位"]),
    (["江西要求哪年底前全面公布省、市、县三级政府部门权力清单和责任清单?"], "那市县两级政府执法队伍整合呢?",
     ["江西", "执法队伍整合", "哪年底前"], ["权力清单"]),
    (["南陵县2024年要新创建几个“枫桥式”司法所?"], "这项任务涉及哪几个镇?", ["南陵县", "枫桥式", "哪几个镇"], []),
    (["武清区2019年行政复议纠错率是多少?"], "那行政机关负责人出庭应诉案件一共有多少件?",  # a whole new question
     ["武清区", "2019年", "出庭应诉"], ["纠错率"]),
    (["广西法治政府建设实施方案(征求意见稿)是哪个单位公开征求意见的?", "意见截止到什么时候?"], "可以找谁联系?",
     ["广西", "征求意见", "联系"], []),
]


@pytest.mark.parametrize("earlier,question,must,must_not", DIALOGUES, ids=[d[1] for d in DIALOGUES])
def test_follow_ups_are_rewritten_by_slot(earlier, question, must, must_not):
    history = [x for q in earlier for x in (("user", q), ("assistant", "……"))]
    standalone = condense_without_llm(question, history, WORDS)
    assert all(m in standalone for m in must), standalone
    assert not any(m in standalone for m in must_not), standalone


@pytest.mark.parametrize("question", ["营业执照归哪个部门管?", "五原县2022年开展了哪些法治宣传活动?",
                                      "宁夏对政务公开有什么要求?"])
def test_a_question_of_its_own_is_left_alone(question):
    history = [("user", "陕西要求哪年前建成两法衔接平台?"), ("assistant", "2023年年底前。")]
    assert condense_without_llm(question, history, WORDS) == question


def test_question_words_are_no_township():
    history = [("user", "南陵县2024年要新创建几个“枫桥式”司法所?"), ("assistant", "……")]
    assert "哪几个镇2024" not in condense_without_llm("这项任务涉及哪几个镇?", history, WORDS)


def test_this_plan_after_an_answer_that_names_it_is_that_document():
    from rag.answer.followup import _named_referent

    answer = "启动《四平市法治政府建设实施方案(2021—2025年)》起草工作,广泛征求意见。[1]"
    assert _named_referent("这个方案打算什么时候印发实施?", answer) == "《四平市法治政府建设实施方案》打算什么时候印发实施?"
    assert _named_referent("应该报告哪些内容?", "《梨树县法治政府建设情况报告》") == "应该报告哪些内容?"
    assert _named_referent("这个报告是谁写的?", answer) == "这个报告是谁写的?"  # the answer names no 报告
