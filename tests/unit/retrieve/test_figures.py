"""Quoted figures: which figures a question quotes, which passages state them exactly, and
that a passage stating a rare quoted figure is lifted among the candidates (FigureMatch)."""

from llama_index.core.schema import NodeWithScore, TextNode

from rag.retrieve.figures import FigureMatch, figures, states
from rag.retrieve.query import Analysis


def test_figures_a_question_quotes():
    assert figures("网上可办率达到99%的是哪个城市的依申请政务服务事项?") == ["99%"]
    assert figures("哪个街道2022年培育了140名法律明白人,办结5172件工单?") == ["140名", "5172件"]
    assert figures("2023年底前要完成什么?") == []  # a year is not a figure
    assert figures("审核率达到 95.5 %以上的是哪里") == ["95.5%"]


def test_a_figure_is_stated_exactly():
    assert states("依申请政务服务事项网上可办率达99%,极大便利", "99%")
    assert not states("网上可办率达到199%", "99%") and not states("达到0.99%", "99%")
    assert not states("网上可办率达到98%", "99%")
    assert states("培养社区“法律明白人”140 名", "140名")


def _node(vid: int, text: str, score: float) -> NodeWithScore:
    return NodeWithScore(node=TextNode(id_=str(vid), text=text, metadata={"vid": vid, "doc_id": f"d{vid}"}), score=score)


class _Query:
    def __init__(self, question: str):
        self.analysis = Analysis(question=question, normalized=question)


def test_the_passage_stating_a_rare_quoted_figure_is_lifted():
    nodes = [_node(1, "县级事项网上可办率达到98%以上", 0.8), _node(2, "东港市网上可办率达到98%", 0.7),
             _node(3, "依申请政务服务事项网上可办率达99%", 0.6)]
    out = FigureMatch(is_rare=lambda f: True).postprocess_nodes(nodes, _Query("网上可办率达到99%的是哪个城市?"))
    assert [n.node.metadata["vid"] for n in out] == [3, 1, 2]
    # a figure most passages state (100%) picks nothing out: the order stays
    nodes = [_node(1, "达到100%", 0.8), _node(2, "覆盖率100%", 0.7), _node(3, "其他", 0.9)]
    out = FigureMatch(is_rare=lambda f: False).postprocess_nodes(nodes, _Query("达到100%的有哪些?"))
    assert [n.node.metadata["vid"] for n in out] == [1, 2, 3] and [n.score for n in out] == [0.8, 0.7, 0.9]
