"""User-facing sentences of the answer path, in one place (Chinese, as users read them).

Every refusal starts with `REFUSAL_PREFIX`, so that callers (the evaluation, the LLM citation
check, the app) recognise one without parsing it.
"""

REFUSAL_PREFIX = "资料中没有"
# what an LLM is told to say, and what is said without sources to give it
LLM_REFUSAL = "资料中没有与该问题相关的内容。"
# a refusal: the reason (what is not covered), then what the collection covers
REFUSAL = "资料中没有能回答这个问题的内容:{reason}。现有资料涵盖:{covered}{more}。"
REFUSAL_MORE = "等 {n} 份文件"
TRUNCATED = "问题过长,已截取前 {n} 个字"

# reasons of the answer stage itself (the gate's own reasons are next to its rules)
NO_EVIDENCE_SENTENCE = "检索到的段落中找不到回答这个问题的内容"
LLM_SAYS_NOT_COVERED = "模型判断检索到的段落不能回答这个问题"
LLM_UNSUPPORTED = "生成的回答没有得到来源支持"
