"""Chinese sentences for the line-breaking tests (issue #17), written for them.

:func:`sentences` gives a few hundred sentences of four kinds (news,
dialogue, numbers with units, mixed Chinese and English), built from
hand-written parts with a fixed seed. :data:`HAND_SEGMENTED` holds sentences
whose word boundaries were marked by hand with ``/`` (a native reader's
segmentation, not the segmenter's).
"""

from __future__ import annotations

import itertools
import random

_PLACES = (
    "北京市",
    "上海浦东新区",
    "广东省深圳市",
    "香港特别行政区",
    "台北市",
    "四川省成都市",
    "浙江省杭州市",
    "江苏省南京市",
)
_TIMES = ("今天上午", "昨天晚上", "本周三下午", "上个月底", "2024年3月5日")
_EVENTS = (
    "举行了一场大型国际科技展览会",
    "发布了新的城市交通管理规定",
    "召开了关于环境保护的新闻发布会",
    "启动了新一轮的老旧小区改造工程",
    "迎来了今年夏天最强的一次降雨",
    "开通了连接机场和市中心的地铁线路",
)
_CONSEQUENCES = (
    "吸引了大约3万名观众前来参观",
    "相关部门表示将继续加强监督管理",
    "专家认为这将对经济发展产生深远影响",
    "许多市民在社交媒体上表达了自己的看法",
    "预计整个工程将在两年内全部完成",
    "当地政府呼吁居民减少不必要的外出",
)

_SPEAKERS = ("小王", "妈妈", "李老师", "张经理", "医生", "他", "她", "我的朋友")
_SAYINGS = (
    "你今天晚上有没有时间一起去吃饭",
    "我觉得这个计划还需要再仔细讨论一下",
    "别担心，我们一定能够按时完成任务的",
    "你早点回家，不然外面下雨会很冷的",
    "这部电影的结局真的让我非常感动",
    "明天的会议改到下午两点钟开始",
    "你最近的工作压力是不是太大了",
    "我们周末去公园散步好不好",
    "这道菜的味道跟我小时候吃的一模一样",
    "请大家把手机调成静音模式",
)
_DIALOGUE = (
    "{s}说：“{a}。”",
    "{s}问我：“{a}吗？”",
    "{s}笑着说：「{a}。」然后就离开了。",
    "{s}告诉我们，{a}。",
    "“{a}，”{s}说，“{b}。”",
)

_NUMBERS = (
    "这座大桥全长约{n}公里，总投资超过{m}亿元人民币。",
    "今天的最高气温达到了{n}摄氏度，请大家注意防暑降温。",
    "公司去年的营业收入增长了百分之{cn}，利润达到{m}亿美元。",
    "他每天早上跑步{n}公里，已经坚持了整整{cn}年。",
    "这台笔记本电脑重{n}公斤，电池可以连续使用{m}个小时。",
    "截至昨天，全市共有{m}万人接种了疫苗，比上周增加了{n}%。",
    "列车以每小时{m}公里的速度行驶，{n}分钟后到达终点站。",
    "这家餐厅一共有{m}张桌子，每天接待大约{n}位客人。",
    "第{n}届国际电影节将于{cn}月{m}日在上海开幕。",
    "我们买了{cn}斤苹果和{n}瓶牛奶，一共花了{m}块钱。",
)
_N = ("3.5", "12", "28", "35", "120", "7.8", "46", "2")
_M = ("15", "80", "300", "1299", "6", "42", "9")
_CN = ("三", "十五", "二十", "五", "八", "十二")

_MIXED = (
    "我们使用 GLM-ASR 模型来识别普通话和粤语的语音内容。",
    "第一个例子：GLM-ASR在安静的环境下识别得非常准确。",
    "新款 iPhone 15 Pro 的售价为7999元，比去年贵了一些。",
    "请把这份PDF文件发到我的Gmail邮箱，我明天早上再看。",
    "这个API的平均响应时间大约是200毫秒，比上个版本快多了。",
    "他在Google工作了五年，后来加入了一家做AI的初创公司。",
    "我昨天用ChatGPT写了一份报告，老板看了以后很满意。",
    "这台电脑配备了32GB内存和1TB的固态硬盘，运行速度很快。",
    "在New York住了三年以后，她决定回到上海开一家咖啡店。",
    "会议将通过Zoom进行，请大家提前下载客户端并测试麦克风。",
    "这个项目的代码都放在GitHub上，任何人都可以提交Pull Request。",
    "我们的App下载量已经突破了1000万次，用户评价也很好。",
    "他说这款手机的5G信号比4G稳定得多，上网速度也更快。",
    "周末我们去看了Taylor Swift的演唱会，现场气氛非常热烈。",
    "请在Excel表格里把每个月的销售数据整理好，下班前发给我。",
)
_MIXED_TAILS = (
    "大家觉得怎么样",
    "这件事情下周再讨论",
    "具体情况请看附件",
    "有问题随时联系我",
)


def sentences() -> list[str]:
    """About 300 sentences: news, dialogue, numbers with units, mixed English."""
    rng = random.Random(17)
    news = [
        f"{p}{t}{e}，{c}。"
        for p, t, e, c in itertools.product(_PLACES, _TIMES, _EVENTS, _CONSEQUENCES)
    ]
    dialogue = list(
        dict.fromkeys(  # forms without {b} repeat themselves
            form.format(s=s, a=a, b=b)
            for form, s, a, b in itertools.product(_DIALOGUE, _SPEAKERS, _SAYINGS, _SAYINGS)
            if a != b
        )
    )
    numbers = list(
        dict.fromkeys(  # forms without {cn} repeat themselves
            form.format(n=n, m=m, cn=cn)
            for form, n, m, cn in itertools.product(_NUMBERS, _N, _M, _CN)
        )
    )
    mixed = [f"{m}{t}？" for m, t in itertools.product(_MIXED, _MIXED_TAILS)]
    return (
        rng.sample(news, 80)
        + rng.sample(dialogue, 80)
        + rng.sample(numbers, 80)
        + list(_MIXED)
        + rng.sample(mixed, 45)
    )


#: Sentences segmented by hand: a line may break at "/" and nowhere else
#: (spaces shown as "/ /" are boundaries on both sides).
HAND_SEGMENTED = (
    "实验室/里/测试/了/新的/语音识别/准确率/，/结果/让/大家/都/很/满意/。",
    "我/喜欢/在/公园/旁边的/咖啡馆/看书/，/周末/的/时候/人/特别/多/。",
    "今天/的/最高/气温/达到了/38摄氏度/，/请/大家/注意/防暑/降温/。",
    "这座/大桥/全长/约12.5公里/，/总投资/超过/80亿元/人民币/。",
    "我们/使用/ /GLM-ASR/ /模型/来/识别/普通话/和/粤语/的/语音/内容/。",
    "第一个/例子/：/GLM-ASR/在/安静的/环境/下/识别/得/非常/准确/。",
    "他/说/：/“/今天/天气/真/好/，/我们/出去/走走/吧/。/”",
    "妈妈/让/我/早点/回家/，/不然/外面/下雨/会/很/冷/的/。",
    "公司/去年/的/营业/收入/增长了/百分之十五/，/利润/达到/3.6亿美元/。",
    "北京市/今天上午/召开了/关于/环境保护/的/新闻/发布会/。",
    "请/把/这份/PDF/文件/发到/我的/Gmail/邮箱/，/我/明天/早上/再/看/。",
    "列车/以/每小时/300公里/的/速度/行驶/，/46分钟/后/到达/终点站/。",
    "新款/ /iPhone 15 Pro/ /的/售价/为/7999元/，/比/去年/贵了/一些/。",
    "这部/电影/的/结局/真的/让/我/非常/感动/，/我/看了/三遍/。",
    "你/最近/的/工作/压力/是不是/太大了/，/要/注意/休息/啊/。",
    "截至/昨天/，/全市/共有/42万人/接种了/疫苗/，/比/上周/增加了/7.8%/。",
    "他/在/Google/工作了/五年/，/后来/加入了/一家/做/AI/的/初创/公司/。",
    "这道菜/的/味道/跟/我/小时候/吃的/一模一样/，/真/让/人/怀念/。",
    "会议/将/通过/Zoom/进行/，/请/大家/提前/下载/客户端/。",
    "第15届/国际/电影节/将于/五月/二十日/在/上海/开幕/。",
    "佢哋/喺度/食緊/飯/，/我哋/聽日/一齊/去/睇戲/啦/。",
    "呢個/問題/我哋/而家/冇/辦法/解決/，/唔該/你/等/多/陣/。",
    "我們/使用/的/軟體/可以/同時/識別/普通話/和/粵語/的/內容/。",
    "這台/筆記本/電腦/重/2公斤/，/電池/可以/連續/使用/9個小時/。",
    "她/在/New York/住了/三年/以後/，/決定/回到/上海/開/一家/咖啡店/。",
)
