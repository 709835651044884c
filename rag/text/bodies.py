"""Government bodies by their short and full names.

A citizen or an official writes 市场监管局, 人社局, 住建局; a report may write 市场监督管理局,
人力资源和社会保障局, 住房和城乡建设局 (and the other way round). The pairs are the standard
abbreviations of local government departments, not taken from any one corpus.
"""

from __future__ import annotations

SHORT_FULL: tuple[tuple[str, str], ...] = (
    ("市场监管局", "市场监督管理局"),
    ("发改委", "发展和改革委员会"),
    ("发改局", "发展和改革局"),
    ("人社局", "人力资源和社会保障局"),
    ("住建局", "住房和城乡建设局"),
    ("卫健委", "卫生健康委员会"),
    ("卫健局", "卫生健康局"),
    ("应急局", "应急管理局"),
    ("文旅局", "文化和旅游局"),
    ("文广旅局", "文化广电和旅游局"),
    ("交通局", "交通运输局"),
    ("医保局", "医疗保障局"),
    ("退役军人局", "退役军人事务局"),
    ("民宗局", "民族宗教事务局"),
    ("编办", "机构编制委员会办公室"),
    ("政府办公室", "人民政府办公室"),
    ("政府办", "人民政府办公室"),
    ("审批局", "行政审批服务局"),
    ("城管局", "城市管理局"),
    ("综合执法局", "综合行政执法局"),
)


def other_names(body: str) -> list[str]:
    """The same body under its other name(s): 县市场监管局 → 县市场监督管理局."""
    out = []
    for short, full in SHORT_FULL:
        if body.endswith(full):
            out.append(body[: -len(full)] + short)
        elif body.endswith(short):
            prefix = body[: -len(short)]
            # "县行政审批局" already holds part of 行政审批服务局 before 审批局: no such expansion
            if any(prefix.endswith(full[:k]) for k in range(1, len(full) - len(short) + 1)):
                continue
            out.append(prefix + full)
    return list(dict.fromkeys(o for o in out if o != body))
