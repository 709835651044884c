"""Everyday words stand for the documents' words only when no document has them."""

from rag.text.everyday import documentary


def test_an_everyday_word_becomes_the_documents_word():
    corpus = "全年办理一般程序案件41件,对企业的同类检查原则上每年不超过1次。"
    mentioned = lambda w: w in corpus  # noqa: E731
    assert documentary("案子", mentioned) == "案件"
    assert documentary("公司", mentioned) == "企业"
    assert documentary("检查", mentioned) == "检查"  # the documents' own word stays
    assert documentary("去年", mentioned) is None  # a relative time is no topic
    assert documentary("所得税", mentioned) == "所得税"  # no equivalent: the gate still sees it missing
    assert documentary("官司", lambda w: False) == "官司"
