"""Page chrome: the named rules that tell a scraped page's furniture from the document's text.

Every rule is one compiled pattern matched against one normalised, stripped line, with what to
do when it matches (`action`), a short comment and the fixture (tests/fixtures/docs) that shows
it. To add a rule: append a `Rule` to `RULES` with a literal line from a real page as `example`
and the fixture it comes from; `tests/test_chrome.py` checks every rule on its example, checks
that the example occurs in the fixture, and that body sentences merely containing the same
words (来源, 首页, 打印…) stay.

Actions:
- ``drop``   the line is chrome wherever it is;
- ``head``   chrome only above the document's first prose line (site banners, bylines);
- ``strip``  the matched text is removed and the rest of the line kept (dropped if nothing is left);
- ``block``  the line and the short lines after it (a 相关新闻 list) are dropped;
- ``info``   a page's source/date line: dropped when it carries page widgets (counters, font
  size, print, share) or a CMS-only field, or when it stands next to a line dropped as such;
  a bare source/date line (`( 2023-12-06 ) 稿件来源: 法治日报`) is the document's provenance and
  stays quotable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CJK = "\u4e00-\u9fff"


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    action: str  # drop | head | strip | block | info
    note: str
    fixture: str  # the fixture file that shows it
    example: str  # a line of that fixture (after normalisation) the rule must remove
    max_len: int = 120  # longer lines are never this chrome (0: any length)


def _re(p: str) -> re.Pattern[str]:
    return re.compile(p)


# Words of navigation, language, accessibility and tool bars. A line made only of them (with
# separators) is a bar; see the rules nav_bar and tool_bar.
_NAV = (
    r"首页|网站首页|政务公开|政府信息公开|[\u4e00-\u9fff]{0,4}信息公开|政务服务(?:[\u4e00-\u9fff]{0,4})|互动交流|政民互动|"
    r"数据发布|办事服务|网上办事|公共服务|专题专栏|要闻动态|新闻中心|新闻动态|政策文件|政策法规|机构职能|机构设置|"
    r"法制查询|网站公告|通知公告|公共法律服务|招商引资|走进[\u4e00-\u9fff]{1,4}|魅力[\u4e00-\u9fff]{1,4}|关于我们|联系我们|"
    r"网站地图|使用帮助|热门推荐|最新更新|Tags|RSS|往期回顾|版面导航|标题导航|[\u4e00-\u9fff]{1,4}频道|"
    r"[\u4e00-\u9fff]{0,4}客户端|部门街镇|部门网站|行政区划|开发区|站群导航|[\u4e00-\u9fff]{1,12}(?:门户网站|网站|网)|"
    r"[省市县区州盟旗](?:委|人大|政协|政府|纪委(?:监委)?)|[\u4e00-\u9fff]{2,4}动态|政策解读|今日[\u4e00-\u9fff]{2,4}|办事指南|在线咨询|投诉建议|在线访谈|领导信箱|人大要闻|"
    r"代表建议|审议意见|执法检查"
)
_TOOLS = (
    r"无障碍(?:浏览)?|简体(?:版)?|繁体(?:版)?|简|繁|长者(?:模式|版)|长辈(?:模式|版)|关怀版|手机版|微信(?:公众号)?|微博|QQ空间|English|"
    r"日本語|한국어|Русский|蒙古文版|汉文|维吾尔文|哈萨克文|藏文|蒙古文|[\u0F00-\u0FFF]{2,20}|[\u0600-\u06FF]{2,20}|"
    r"[\u1800-\u18AF]{2,20}|Print|Close|登录|注册|网站支持IPv6|IPv6|设为首页|加入收藏|智能问答|一网搜|"
    r"搜索|请输入关键字|语音播报|返回顶部|打印|关闭|放大|缩小|默认|返回目录|上一版|下一版|上一期|下一期|分享到(?:微信|微博)?"
)
_SEP = r"(?:\s*[|•·/]\s*|\s+)"
_BAR = rf"^(?:(?:{_NAV}|{_TOOLS}){_SEP})+(?:{_NAV}|{_TOOLS})[\s|]*$"
_TOOL_ONLY = rf"^[|•·\s\[【]*(?:{_TOOLS})(?:{_SEP}(?:{_TOOLS}))*[\s|\]】]*$"

# Widgets of an article's info bar: counters, font size, print/close, share, colour pickers.
WIDGET = (
    r"浏览次数|浏览量|浏览[::]|点击率|点击量|点击次数|点击数|阅读次数|阅读量|阅读[::]|访问次数|访问量|字体大小|字体[::(【\[\s大]|"
    r"字号[::【\[\s大]|[【\[(]\s*大\s*[】\])]|大\s+中\s+小|打印|列印|关闭|分享|收藏|视力保护色|背景色|语音播报|纠错|相关办事指南"
)
WIDGET_RE = re.compile(WIDGET)
_WIDGET_TOKEN = (
    r"字体大小|字体|字号|大|中|小|打印本页|打印此页|我要打印|打印|关闭窗口|关闭|浏览次数|浏览量|浏览|点击率|点击量|阅读次数|"
    r"阅读量|阅读|访问次数|访问量|视力保护色|背景色|语音播报|分享到|分享|微信|微博|QQ空间|收藏|我要纠错|纠错|返回顶部|放大|"
    r"缩小|默认|取消收藏成功|相关办事指南|点击关闭详细目录信息|列印"
)
_WIDGET_ONLY = rf"^(?:[\s|【】\[\]()<>::,!]|\d+|{_WIDGET_TOKEN})+$"
# A source / date / author line of the page (labels with their values, no sentence).
_PROV_LABEL = r"(?:信息来源|文章来源|稿件来源|来源|发布时间|发布日期|发表时间|更新时间|更新日期|归档时间|时间|日期|作者|发布机构)"
_DATETIME = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}日?(?:\s*\d{1,2}:\d{2}(?::\d{2})?)?"
PROVENANCE_RE = re.compile(rf"^(?:[(\[]?\s*{_DATETIME}\s*[)\]]?\s*)?{_PROV_LABEL}\s*[::]|^{_DATETIME}\s+{_PROV_LABEL}\s*[::]")
CMS_ONLY_RE = re.compile(r"更新时间|更新日期|归档时间|文章来源")
# an organisation or author line followed by a date, under the title (`市司法局 2025年02月21日`)
BYLINE_DATE_RE = re.compile(rf"^[{_CJK}、]{{2,30}}\s+\d{{4}}年\d{{1,2}}月\d{{1,2}}日$")

class _MostlyNav:
    """A row of four or more short items, three or more of them site sections (今日方城 | 乡镇动态 |
    通知公告 | 法治政府建设 | 政策解读): a bar, though a column name (法治政府建设) is in it. A table's
    header row names no site section."""

    _row = re.compile(rf"^(?:[{_CJK}]{{2,8}}\s*\|\s*){{3,}}[{_CJK}]{{2,8}}\s*\|?$")
    _nav = re.compile(rf"^(?:{_NAV})$")

    def search(self, line: str) -> re.Match[str] | None:
        m = self._row.match(line)
        if m and sum(bool(self._nav.match(x.strip())) for x in line.split("|") if x.strip()) >= 3:
            return m
        return None


# one to four site names, then language/accessibility switches: 西安市高陵区人民政府 | 无障碍 | English
_SITE_TOOLS = rf"^(?:[{_CJK}()]{{2,24}}\s*\|\s*){{1,4}}(?:{_TOOLS})(?:\s*\|\s*(?:{_TOOLS}))*\s*\|?$"

RULES: list[Rule] = [
    # --- bars at the top of the page ---
    Rule("date_banner", _re(r"今天是|^\S{0,30}\s*\d{4}年\d{1,2}月\d{1,2}日\s*星期[一二三四五六日天](?:\s*农历\S*)?$"), "drop",
         "a site clock: 今天是…星期…农历…, or a date with its weekday standing alone (a stale banner, an e-paper's date)",
         "b02_wuqing-2019-report.txt", "今天是:2020年3月2日 星期一 农历二月初九"),
    Rule("welcome", _re(r"^(?:您好[,!]?\s*)?欢迎(?:您)?(?:访问|登录|光临|来到)"), "drop",
         "a welcome line: 欢迎访问…门户网站", "a03_yueyangxian-plan.txt", "欢迎访问岳阳县人民政府门户网站!"),
    Rule("nav_bar", _re(_BAR), "drop",
         "a row of site sections, party organs, sister sites, language or accessibility switches",
         "a02_wanzhou-work-points.txt", "中国政府网 | 重庆市人民政府网 | 万州经济技术开发区网 | |"),
    Rule("site_names", _re(rf"^(?:[{_CJK}]{{2,20}}(?:人民政府|政府网|门户网站|政务服务网)\s*\|\s*)+"
                           rf"[{_CJK}]{{2,20}}(?:人民政府|政府网|门户网站|政务服务网)\s*\|?$"), "drop",
         "a row of government sites separated by | (a joint issuer line has no |)", "h50_pingyao-yingjiju-2023-report.md",
         "平遥县人民政府 | 晋中市人民政府 | 山西省人民政府"),
    Rule("page_url", _re(r"^https?://\S+$"), "drop", "the page's own address left on a line of its own",
         "h44_longyou-huzhen-2022-nbsp.txt", "http://www.longyou.gov.cn/art/2023/2/8/art_1229337512_59001234.html"),
    Rule("counter", _re(r"^(?:浏览次数|访问次数|阅读次数|点击次数)\s*[::]"), "drop",
         "a page counter starting a line (浏览次数: 1286  内容概述: …)", "h41_shexian-2024-work-points-by-unit.txt",
         "浏览次数: 1286 内容概述: 明确2024年全县法治政府建设重点任务及牵头单位"),
    Rule("site_tools", _re(_SITE_TOOLS), "drop",
         "the site's name (or its parents') followed by language and accessibility switches",
         "h30_gaoling-2024-work-points-dajizhewen.md", "西安市高陵区人民政府 | 无障碍 | 长者模式 | English"),
    Rule("nav_mostly", _MostlyNav(), "drop",
         "a row of site sections with a column or two among them (三 or more of the items are sections)",
         "h25_fangcheng-yangji-2023-report.txt", "今日方城 | 乡镇动态 | 通知公告 | 法治政府建设 | 政策解读"),
    Rule("nav_from_home", _re(rf"^(?:网站)?首页(?:{_SEP}[^\s|,。;:,:]{{2,8}}){{2,}}[\s|]*$"), "drop",
         "a menu row that starts at 首页 (its other items are the site's own words)",
         "b11_leishan-danjiang-shufa-2023.txt", "首页 | 政务公开 | 乡镇信息公开 | 丹江镇 | 法治政府建设"),
    Rule("tool_bar", _re(_TOOL_ONLY), "drop",
         "a lone accessibility / language / care-mode switch: 关怀版, 无障碍 简体| 繁体",
         "a02_wanzhou-work-points.txt", "语音播报"),
    Rule("breadcrumb", _re(r"^(?:您(?:当前|现在)?(?:所在)?的?位置|所在位置|您现在所在位置|当前的位置)\s*[::]|^当前位置"), "drop",
         "a breadcrumb: 您当前的位置:首页 > …, 当前位置:, 您现在所在位置:",
         "b11_leishan-danjiang-shufa-2023.txt", "当前位置:首页 > 乡镇信息公开 > 丹江镇 > 工作总结"),
    Rule("breadcrumb_path", _re(r"(?:^|[|\s])(?:网站)?首[页頁]\s*(?:>>?|›|»|→|->|-&gt;|/)\s*\S|^(?:>>?|›|»)\s*\S{1,12}$|"
                                r"^\S{2,12}\s*>\s*\S{2,12}\s*>\s*\S{1,12}$"), "drop",
         "a breadcrumb path: 首页 > …, 首页→ 网站公告, 首页 -> …, or a path continued on the next line",
         "b18_cangzhou-2016-report.txt", "首页→ 网站公告"),
    Rule("site_banner", _re(rf"^[{_CJK}]{{2,30}}?(?:人民政府|政府|法制办公室|司法局|司法厅)(?:门户网站|信息公开网|网站|网)?"
                            r"(?:\s*\((?:繁体|简体)版\))?(?:\s*(?:政府信息公开|信息公开|政务公开))?$"
                            rf"|^[{_CJK}]{{2,12}}(?:日报|晚报|报)?(?:数字报|电子报|数字版)$|^[{_CJK}]{{2,8}}\s+(?:政务公开|政府信息公开)$"
                            r"|^(?:政府信息公开|信息公开|政务公开)$"
                            rf"|^[{_CJK}()]{{2,30}}(?:政务网|政府网|门户网站|门户网|政务公开网|信息公开网|新闻网|政务公开平台|信息公开平台|政务服务网)$"
                            rf"|^[{_CJK}]{{2,20}}(?:人民代表大会常务委员会|人大常委会)(?:门户网站|网站)?$"
                            r"|^政府信息公开(?:指南|制度|目录|年报|年度报告)$|^信息公开目录$|^法定主动公开内容$"), "head",
         "the site's name above the article (not an issuer line of a title that goes on with 关于…)",
         "b13_yiwu-choucheng-jiedao-2021.txt", "义乌市人民政府 政府信息公开"),
    Rule("url_byline", _re(r"(?:www\.|https?://)\S+.*\d{4}-\d{1,2}-\d{1,2}|\d{4}-\d{1,2}-\d{1,2}.*(?:www\.|https?://)"), "drop",
         "a site byline with its address and a time: 中阳县政府 www.… 2022-08-03 09:00",
         "a09_zhongyang-opinion.txt", "中阳县政府 www.sxzhongyang.gov.cn 2022-08-03 09:00"),
    Rule("byline_date", BYLINE_DATE_RE, "head",
         "a unit and a date under the title (the page's author line, not a signature)",
         "b04_donggang-2024-report.txt", "市司法局 2025年02月21日"),
    Rule("epaper", _re(r"^第[A-Z]?\d{1,3}版\s*[::]"), "drop",
         "an e-paper's page label: 第A02版:要闻", "b14_yichang-plan-news-2022.txt", "第A02版:要闻"),
    # --- the article's info bar ---
    Rule("info_bar", PROVENANCE_RE, "info",
         "来源/发布时间/作者… with counters or tools (浏览次数, 字体:【大 中 小】, 点击率, 打印, 分享), or a CMS-only "
         "field (更新时间, 归档时间, 文章来源), or next to such a line",
         "a01_jinghai-plan-notice.html", "来源:静海区人民政府办公室 发布时间:2021-12-24 10:12 浏览次数:1276 字体:【大 中 小】"),
    Rule("widgets", _re(_WIDGET_ONLY), "drop",
         "counters, font size, print/close and share controls on a line of their own",
         "a03_yueyangxian-plan.txt", "视力保护色:"),
    Rule("print_close", _re(r"^[【\[]?\s*(?:打印本页|打印此页|我要打印|关闭窗口|返回顶部|我要纠错)|^[【\[]\s*(?:打印|列印|关闭)\s*[】\]]"),
         "drop",
         "【打印本页】【关闭窗口】 and friends", "b02_wuqing-2019-report.txt", "【打印本页】 【关闭窗口】"),
    Rule("share", _re(r"^分享到|^分享至|^分享\s*[::]"), "drop", "a share row: 分享到:微信 微博",
         "b13_yiwu-choucheng-jiedao-2021.txt", "分享到:微信 微博", 0),
    # --- around the end of the article ---
    Rule("prev_next", _re(r"^(?:上一篇|下一篇|上一条|下一条|上一版|下一版|上一期|下一期)"), "drop",
         "links to the previous/next article (their titles would pass for the document's)",
         "b01_xinluo-dongcheng-jiedao-2022.txt", "上一篇:东城街道2022年政府信息公开工作年度报告", 0),
    Rule("related", _re(r"^(?:相关(?:新闻|阅读|文章|链接|推荐|报道|稿件|信息|文件)|往期推荐|往期回顾|推荐阅读|延伸阅读|热点推荐|热门文章)\s*[::]?"), "block",
         "a related-articles box: the label and the headline list below it",
         "b08_weixian-news-2022.html", "相关新闻", 0),
    Rule("editor", _re(r"^(?:责任编辑|编辑|审核|校对|二审|终审|值班编辑|来稿编辑)\s*[::]"), "drop",
         "editor credits: 责任编辑:… 校对:…", "b14_yichang-plan-news-2022.txt", "责任编辑:周敏 校对:黄婷"),
    Rule("keywords", _re(r"^(?:本文)?(?:关键词|关键字|标签|Tags)\s*[::]|^本文(?:链接|地址)\s*[::]"), "drop",
         "keyword and permalink lines", "b08_weixian-news-2022.html", "关键词:法治政府,示范创建,威县"),
    Rule("attachment_none", _re(r"^附件\s*[::]\s*无$"), "drop", "an empty attachment line: 附件:无",
         "b12_yongchuan-shenglilu-jiedao-2022.html", "附件:无"),
    Rule("wechat_byline", _re(r"^原创\s+\S+(?:\s+\S+)?\s+\d{4}-\d{1,2}-\d{1,2}(?:\s+\d{1,2}:\d{2})?(?:\s+\S{2,4})?$"), "drop",
         "a WeChat article's byline: 原创 author account date time province", "h14_cuiping-wechat-2023-report.txt",
         "原创 翠屏司法 翠屏司法行政 2024-03-26 18:30 四川"),
    Rule("wechat_furniture", _re(r"^[-—]+\s*END\s*[-—]+$|点击蓝字关注|长按(?:识别)?二维码|^微信号\s*[::]|^阅读原文$|"
                                 r"^(?:分享|收藏|赞|在看|点赞|转发)(?:\s+(?:分享|收藏|赞|在看|点赞|转发))+$|^💬|^欢迎留言"), "drop",
         "a WeChat page's furniture: - END -, follow prompts, 微信号, 阅读原文, 分享 收藏 赞 在看, comment prompts",
         "h14_cuiping-wechat-2023-report.txt", "分享 收藏 赞 在看"),
    Rule("attachment_download", _re(r"^附件下载\s*[::]"), "drop",
         "an attachment download link: 附件下载:[…xlsx](…)", "h03_sheyang-2024-work-points.md", "附件下载:"),
    Rule("page_number", _re(r"^[—\-–]{1,2}\s*\d{1,3}\s*[—\-–]{1,2}$"), "drop",
         "a page number left between paragraphs by PDF-to-text: — 2 —", "h04_sangzhuzi-2023-work-points-pdf.txt",
         "— 2 —"),
    Rule("copy_to", _re(r"^抄送\s*[::]"), "drop",
         "the 版记 of an official document: who gets copies (抄送:…)", "h04_sangzhuzi-2023-work-points-pdf.txt",
         "抄送:区委办公室,区人大常委会办公室"),
    Rule("print_run", _re(rf"^[{_CJK}()]{{2,30}}\s+\d{{4}}\s*年\s*\d{{1,2}}\s*月\s*\d{{1,2}}\s*日\s*印发$"), "drop",
         "the 版记 line of who printed it and when (not the signature)", "h04_sangzhuzi-2023-work-points-pdf.txt",
         "日喀则市桑珠孜区人民政府办公室 2023年3月28日印发"),
    Rule("image_file", _re(r"^\S{0,30}\.(?:png|jpe?g|gif|bmp|webp)$|^(?:图片|插图|图)\s*\d{1,3}$|^[\u4e00-\u9fffA-Za-z]{1,12}[-_]\d{1,3}$"),
         "drop", "an image left in the text: its file name (图片1.png) or its numbered label (一图读懂-01)",
         "b10_chuxiong-plan-yituduodong.md", "一图读懂-01"),
    Rule("word_residue", _re(r"^Normal\s+0\s+\d|Style Definitions|MsoNormalTable|mso-style-|^<!--\[if"), "drop",
         "what a page pasted from Word leaves: its style definitions", "h36_xialu-2023-report-word.txt",
         "Normal 0 7.8 磅 0 2 false false false EN-US ZH-CN X-NONE", max_len=0),
    Rule("bracket_info_bar", _re(r"^(?:[【\[][^】\]]{1,30}[】\]]\s*){3,}$"), "drop",
         "an info bar of three or more bracketed fields: 【发布时间:…】【来源:…】【字体:…】【打印】",
         "h32_jiuzhaigou-shichangjianguanju-shufa-2023.txt",
         "【发布时间:2024-01-22 10:15】【来源:县市场监管局】【字体:大 中 小】【打印】【关闭】"),
    Rule("place_menu", _re(rf"^(?:[{_CJK}]{{2,8}}(?:镇|乡|街道|苏木|区|县|市|旗)\s*\|\s*){{2,}}[{_CJK}]{{2,8}}(?:镇|乡|街道|苏木|区|县|市|旗)$"
                           r"|^(?:街镇|镇街|乡镇|区县|县区|部门)导航$"), "drop",
         "a site's menu of its towns or counties (土桥镇 | 二坪镇 | …) and its heading", "h39_tongliang-bachuan-jiedao-2023.txt",
         "土桥镇 | 二坪镇 | 水口镇 | 安居镇 | 白羊镇"),
    Rule("document_file", _re(r"^(?:\d{1,2}[.、]\s*)?\S{1,80}\.(?:docx?|pdf|xlsx?|wps|ofd|zip|rar)$"), "drop",
         "an attachment's file name in the attachment list: 1.….docx", "h21_hunyuan-2024-renwu-fengong.txt",
         "1.浑源县2024年法治政府建设重点任务分工方案.docx"),
    Rule("image_placeholder", _re(r"^\[(?:图片|图像|image)[::][^\]]{0,120}\]$|以下为图片文字识别内容|以原图为准"), "drop",
         "an image's placeholder and the OCR notice of a page posted as pictures",
         "h28_linkou-shichangjianguanju-2023-ocr.txt", "(以下为图片文字识别内容,仅供参考,以原图为准)"),
    Rule("page_of", _re(r"^第\s*\d{1,3}\s*页\s*[/,,]?\s*共\s*\d{1,3}\s*页$"), "drop",
         "a page counter of a scanned or PDF page: 第1页 共3页", "h28_linkou-shichangjianguanju-2023-ocr.txt", "第1页 共3页"),
    Rule("disclosure", _re(r"^(?:公开方式|公开范围|公开属性|公开类别)\s*[::]?\s*(?:主动公开|依申请公开|不予公开|免予公开)$"), "drop",
         "a release note of a 版记 or header: 公开方式:主动公开", "h22_kaiyuan-2022-report.txt", "公开方式:主动公开"),
    Rule("header_fields", _re(r"^(?:(?:索引号|发布机构|公开类别|公开方式|发布时间|成文日期|发文字号|主题分类|信息分类|文号|生成日期)"
                              r"(?:\s*[::]\s*|\s+)(?:\S{1,30}\s+)??){2,}\S{0,30}$"), "drop",
         "a gov-site header row of two or more labels, some of them empty: 索引号  发布机构 川沙新镇",
         "h26_pudong-chuansha-2023-report.txt", "公开类别 主动公开 发布时间 2024-03-20"),
    Rule("site_links", _re(r"^(?:政府网站链接|网站链接|友情链接|相关网站|政府网站)\s*[::]"), "drop",
         "a row of links to other government sites", "h22_kaiyuan-2022-report.txt",
         "政府网站链接: 中国政府网 | 辽宁省人民政府 | 铁岭市人民政府"),
    Rule("scan_qr", _re(r"扫一扫|扫描二维码|关注我们|微信扫|手机打开当前页"), "drop",
         "QR-code prompts: 扫一扫在手机打开当前页", "a01_jinghai-plan-notice.html", "扫一扫在手机打开当前页", 0),
    Rule("footer", _re(r"ICP备|ICP证|公网安备|备案号|网站标识码|版权所有|主办单位[::]|承办单位[::]|技术支持[::]"), "drop",
         "site footers: ICP, 公网安备, 网站标识码, 主办/承办单位, 版权所有 (any line holding one is footer)",
         "a02_wanzhou-work-points.txt", "网站标识码:0000000000 渝ICP备00000000号 渝公网安备 50000000000000号", 0),
    Rule("footer_more", _re(r"^主办\s*[::]|^承办\s*[::]|\S主办\s+\S+承办|公安备案|Copyright|©|版权及免责声明|未经(?:书面)?授权|"
                            r"互联网新闻信息服务许可证|建议使用\S*分辨率|您是本站第\s*\d+\s*位访客|^网站地图|手机上查看"), "drop",
         "more footer lines (short ones only: a sentence may say 未经授权)",
         "b06_yangshuo-baisha-2020-trad.txt", "Copyright © 2021 All Rights Reserved"),
    Rule("disclaimer", _re(r"本文转载自|如有侵权|本站部分内容来源于网络|版权说明|免责声明"), "drop",
         "a mirror's disclaimer", "a13_jiangxi-gangyao-2016.md", "本文转载自江西省人民政府网站,如有侵权请联系删除。"),
    Rule("separator", _re(r"^[|\s\-—=_*~·•×]*$"), "drop", "separator lines made of | - = *", "a15_nanling-work-points.txt", "|||",
         0),
    # --- inside lines ---
    Rule("emoji_bullet", _re(r"^[\U0001F300-\U0001FAFF\u2600-\u27BF\u2B50\u2B55\uFE0F\u200D]+\s*"), "strip",
         "emoji used as bullets (🔹一、…, 📢 …): the heading or sentence after them is the text",
         "h14_cuiping-wechat-2023-report.txt", "🔹一、坚持高位推动,压实第一责任人职责"),
    Rule("garbage_marks", _re(r"^\?{2,}\s*"), "strip", "`??` indent garbage of traditional-script mirrors",
         "b06_yangshuo-baisha-2020-trad.txt", "??"),
    Rule("column_tag", _re(r"^【(?:政策解读|图文解读|图解|解读|权威发布|媒体解读|实录|文字实录|图文实录|图文直播)】\s*"), "strip",
         "a column tag before the title: 【政策解读】", "b09_huzhu-plan-explainer-qa.txt",
         "【政策解读】《互助土族自治县法治政府建设实施方案(2021—2025年)》政策解读"),
]

_BY_ACTION: dict[str, list[Rule]] = {}
for _r in RULES:
    _BY_ACTION.setdefault(_r.action, []).append(_r)

_PROSE_PUNCT_RE = re.compile(r"[。,;!?]")
_CJK_RE = re.compile(rf"[{_CJK}]")
_TITLE_GOES_ON_RE = re.compile(r"^(?:关于|印发|转发|批转|\(|《)")
_DATE_LINE_RE = re.compile(r"^\d{4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日")
# the rest of a title whose issuer line stands above it (海口市人民政府 / 2021年度法治政府建设情况报告)
_REST_OF_TITLE_RE = re.compile(r"^\d{4}\s*年度?[^。,;:]{2,40}(?:报告|总结|要点|计划|安排|方案|规划|意见|情况)$")


def is_prose(line: str) -> bool:
    """A line of running text (not a title, label or menu): ≥ 15 CJK characters and sentence punctuation."""
    return len(_CJK_RE.findall(line)) >= 15 and bool(_PROSE_PUNCT_RE.search(line))


def body_start(lines: list[str]) -> int:
    """Index of the first prose line that is not chrome (len(lines) when there is none)."""
    for i, line in enumerate(lines):
        if is_prose(line) and match(line) is None:
            return i
    return len(lines)


def strip(line: str) -> str:
    """`line` with the ``strip`` rules applied."""
    for r in _BY_ACTION.get("strip", []):
        line = r.pattern.sub("", line)
    return line


def match(line: str, head: bool = False) -> Rule | None:
    """The rule that makes `line` chrome on its own (``drop``, ``block``, ``info`` with widgets or a
    CMS-only field; ``head`` rules when `head`), else None."""
    for r in RULES:
        if r.action in ("strip",):
            continue
        if r.action == "head" and not head:
            continue
        if r.max_len and len(line) > r.max_len:
            continue
        if not r.pattern.search(line):
            continue
        if r.action == "info" and not (WIDGET_RE.search(line) or CMS_ONLY_RE.search(line)):
            continue
        return r
    return None


# rules whose lines belong to an article's info bar: a bare source/date line next to one goes too
_INFO_NEIGHBOURS = {"info_bar", "widgets", "tool_bar", "print_close", "share", "byline_date"}


def _next_nonempty(lines: list[str], i: int, step: int) -> int | None:
    j = i + step
    while 0 <= j < len(lines):
        if lines[j]:
            return j
        j += step
    return None


def apply(lines: list[str]) -> tuple[list[str], list[tuple[int, str]]]:
    """Chrome removal over a document's lines (normalised, stripped). Returns the lines with
    chrome lines replaced by "" (indices keep their meaning) and (index, rule name) of each
    dropped line."""
    out = [strip(ln).strip() for ln in lines]
    head_end = body_start(out)
    dropped: list[tuple[int, str]] = []
    drop_idx: set[int] = set()
    i = 0
    while i < len(out):
        line = out[i]
        if not line:
            i += 1
            continue
        r = match(line, head=i < head_end)
        if r is not None and r.name == "site_banner":
            nxt = _next_nonempty(out, i, 1)
            nline = out[nxt] if nxt is not None else ""
            # an issuer line of a title written over several lines, or a signature: not a banner
            if _TITLE_GOES_ON_RE.match(nline) or _REST_OF_TITLE_RE.match(nline) or (
                    _DATE_LINE_RE.match(nline) and match(nline) is None) or (
                    nxt is not None and match(nline, head=True) is not None and match(nline, head=True).name == "site_banner"
                    and _TITLE_GOES_ON_RE.match(out[_next_nonempty(out, nxt, 1) or nxt])):
                r = None
        if r is None:
            i += 1
            continue
        drop_idx.add(i)
        dropped.append((i, r.name))
        if r.action == "block" and not re.sub(r.pattern, "", line).strip(" ::"):
            j = i + 1
            while j < len(out) and (not out[j] or (len(out[j]) <= 40 and not re.search("[。;]", out[j]))):
                if out[j]:
                    drop_idx.add(j)
                    dropped.append((j, r.name))
                j += 1
            i = j
            continue
        i += 1
    # a bare source/date line next to a dropped info bar or widget line belongs to the same bar
    info = next(r for r in RULES if r.name == "info_bar")
    changed = True
    while changed:
        changed = False
        for i, line in enumerate(out):
            if i in drop_idx or not line:
                continue
            if not (info.pattern.search(line) or (i < head_end and BYLINE_DATE_RE.match(line))):
                continue
            for step in (-1, 1):
                j = _next_nonempty(out, i, step)
                if j is not None and j in drop_idx and dict(dropped).get(j) in _INFO_NEIGHBOURS:
                    drop_idx.add(i)
                    dropped.append((i, "info_bar"))
                    changed = True
                    break
    for i in drop_idx:
        out[i] = ""
    return out, sorted(dropped)
