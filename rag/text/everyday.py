"""Everyday words and the words official documents use for the same thing.

A citizen asks "办了多少件案子", "开公司", "老百姓"; a plan or report says 案件, 企业, 群众. When a
question's word stands in no document, its documentary equivalent (the first one some document
has) stands for it, so that the refusal gate and sentence choice weigh what the question means,
not its register. Relative times (去年, 今年) are no topic at all. The pairs are general Chinese
usage, not taken from any one corpus.
"""

from __future__ import annotations

from collections.abc import Callable

DOCUMENT_WORDS: dict[str, tuple[str, ...]] = {
    "案子": ("案件",),
    "官司": ("诉讼", "案件"),
    "打官司": ("诉讼",),
    "告状": ("投诉", "举报", "起诉"),
    "公司": ("企业", "市场主体"),
    "老板": ("企业", "经营者"),
    "开店": ("开办", "经营"),
    "开公司": ("企业开办", "开办企业"),
    "老百姓": ("群众", "人民群众"),
    "市民": ("群众", "公众"),
    "大家": ("群众", "公众"),
    "网上": ("线上", "一网通办"),
    "当官的": ("领导干部", "公务员"),
    "干部": ("领导干部", "公务员"),
    "检查": ("执法检查", "行政检查"),
    "执法队": ("执法队伍", "综合执法"),
    "城管": ("城市管理", "综合执法"),
    "律师": ("法律顾问", "法律服务"),
    "请律师": ("法律顾问", "法律援助"),
    "办证": ("证照", "许可", "登记"),
    "盖章": ("印章", "审批"),
    "跑腿": ("跑动", "最多跑一次"),
    "钱": ("经费", "资金", "费用"),
    "上网": ("网上", "线上"),
    "出结果": ("作出决定", "决定"),
    "交材料": ("递交", "提交"),
}

RELATIVE_TIMES = frozenset("去年 今年 前年 明年 后年 上年 上一年".split())


def documentary(word: str, mentioned: Callable[[str], bool]) -> str | None:
    """The word as the documents say it: itself when some document has it, else the first
    equivalent one has; None for a relative time; the word itself when nothing matches."""
    if word in RELATIVE_TIMES:
        return None
    if mentioned(word):
        return word
    return next((w for w in DOCUMENT_WORDS.get(word, ()) if mentioned(w)), word)
