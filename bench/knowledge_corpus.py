"""130,000 knowledge articles for 示例市, and what callers ask of them: the knowledge bench's data.

Why recombined and not random: FTS5's speed depends on the vocabulary (how many
articles a word is in, how long the posting lists are), so a bench on random
characters would measure another index. Each article is one of the 260 real sample
articles (services/knowledge/data/sample) varied the way a real collection varies:
districts and counties swapped among themselves, roads, sub-districts, years,
amounts, office phones and document numbers changed, list items and middle
paragraphs shuffled, paragraphs of other articles of the same category mixed in,
a local office paragraph added. About 15 % are internal, a few % expired on TODAY.

Article n is drawn from its own seeded generator, so the first 20,000 of the
130,000 are the same articles whichever count is asked for, and 130,000 take
a few seconds to generate.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from contracts.base import Category
from contracts.knowledge_events import ArticleDetails, ArticlePublished
from services.knowledge.domain import Write
from services.knowledge.service import imported_id

SAMPLE = Path(__file__).parents[1] / "services" / "knowledge" / "data" / "sample"
TODAY = date(2026, 12, 4)  # the search's today (the knowledge tests' too)
SEED = 12345

DISTRICTS = ("东湖区", "西山区", "南港区", "北塘区", "中山区", "新城区", "高新区", "临江区")
COUNTIES = ("青石县", "白云县")
ROADS = ("湖滨路", "春和路", "东湖路", "解放路", "人民路", "和平路", "文化路", "滨江路", "渔湾路",
         "金湾路", "海港路", "江畔路", "青年路", "建设路", "新华路", "光明路", "幸福路", "朝阳路",
         "长江路", "学府路", "科技路", "创业路", "港湾大道", "临江大道", "南湖路", "西山路",
         "石桥路", "桂花路", "梧桐路", "枫林路", "望海路", "城关路", "兴业路", "锦绣路", "育才路",
         "振兴路")
SUBDISTRICTS = ("湖滨街道", "春和街道", "滨江街道", "临江街道", "城关街道", "东湖街道", "解放街道",
                "文化街道", "港湾街道", "渔湾街道", "北塘街道", "科创街道", "望海街道", "金湾街道",
                "和平街道", "石桥镇", "白云镇", "青石镇")
COMMUNITIES = ("阳光", "幸福里", "桂花园", "锦绣苑", "翠湖", "枫林", "春晓", "望江", "石桥", "学府",
               "港湾", "新华", "明珠", "丽景", "和平里", "金色家园")
OFFICES = ("政务服务中心", "社保服务大厅", "公积金管理部", "不动产登记中心", "医保服务站",
           "城市管理执法中队", "市场监管所", "供水营业所", "燃气服务站", "供热服务站",
           "车管所", "便民服务中心", "派出所户籍窗口", "人力资源市场")

_DISTRICT = re.compile("|".join(DISTRICTS + COUNTIES))
_ROAD = re.compile("|".join(ROADS[:12]))  # the roads the samples name
_SUBDISTRICT = re.compile("|".join(SUBDISTRICTS[:5]))
_YEAR = re.compile(r"(20[0-3]\d)年")
_AMOUNT = re.compile(r"(\d{2,6})(万?元)")
_PHONE = re.compile(r"(0999-8\d{3})(\d{4})")
_DOC = re.compile(r"〔(20\d\d)〕(\d+)号")
_NUMBERED = re.compile(r"^\d+\. ")


@cache
def sample_rows() -> tuple[dict[str, Any], ...]:
    """The 260 sample rows as in their JSON Lines files."""
    return tuple(json.loads(line) for path in sorted(SAMPLE.glob("*.jsonl"))
                 for line in path.read_text("utf-8").splitlines() if line.strip())


@cache
def _paragraphs() -> dict[tuple[str, str], tuple[tuple[str, str], ...]]:
    """(level1, level2) -> (source id, paragraph) of every sample of that category: what is
    mixed in (a category with too few samples borrows from its whole level1, key level2 "")."""
    found: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for row in sample_rows():
        cat = row["category"]
        for para in row["body"].split("\n\n"):
            if len(para) >= 30:
                found[(cat["level1"], cat["level2"] or "")].append((row["source_id"], para))
                found[(cat["level1"], "")].append((row["source_id"], para))
    return {k: tuple(v) for k, v in found.items()}


def _pool(row: dict[str, Any]) -> list[str]:
    cat, paragraphs = row["category"], _paragraphs()
    own = [p for sid, p in paragraphs[(cat["level1"], cat["level2"] or "")]
           if sid != row["source_id"]]
    return own if len(own) >= 3 else [p for sid, p in paragraphs[(cat["level1"], "")]
                                      if sid != row["source_id"]]


def _local(rng: random.Random, district: str) -> str:
    """A paragraph only a local collection has: an office, its address, its hours."""
    road, sub = rng.choice(ROADS), rng.choice(SUBDISTRICTS)
    number, phone = rng.randint(1, 399), f"0999-8{rng.randint(0, 9_999_999):07d}"
    return rng.choice((
        f"**{district}办理点**：{district}{rng.choice(OFFICES)}（{road}{number}号）"
        f"{rng.randint(1, 4)}楼{rng.randint(1, 30)}号窗口，工作日上午9:00—12:00、下午13:30—17:00。",
        f"**就近咨询**：{sub}便民服务中心，地址{district}{road}{number}号，电话{phone}。",
        f"{district}{sub}、{rng.choice(SUBDISTRICTS)}的居民可在{rng.choice(COMMUNITIES)}社区"
        f"党群服务中心“一窗通办”，材料齐全的当场受理。",
        f"{district}{rng.choice(OFFICES)}已迁至{road}{number}号，原办公地点不再受理业务，"
        f"咨询电话{phone}。",
    ))


def _shuffle_lists(rng: random.Random, para: str) -> str:
    """Reorder a paragraph's bullet or numbered items (numbers given again in order)."""
    lines = para.split("\n")
    items = [i for i, line in enumerate(lines) if line.startswith("- ") or _NUMBERED.match(line)]
    if len(items) < 2:
        return para
    texts = [_NUMBERED.sub("", lines[i]) if _NUMBERED.match(lines[i]) else lines[i] for i in items]
    rng.shuffle(texts)
    for n, (i, item) in enumerate(zip(items, texts, strict=True), start=1):
        lines[i] = item if item.startswith("- ") else f"{n}. {item}"
    return "\n".join(lines)


class Varier:
    """One article's changes: the same district, road and year swaps in title and body."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        swapped = rng.sample(DISTRICTS, len(DISTRICTS)) + rng.sample(COUNTIES, len(COUNTIES))
        self.places = dict(zip(DISTRICTS + COUNTIES, swapped, strict=True))
        self.roads = {r: rng.choice(ROADS) for r in ROADS[:12]}
        self.subs = {s: rng.choice(SUBDISTRICTS) for s in SUBDISTRICTS[:5]}
        self.shift = rng.choice((-2, -1, 0, 0, 0, 1))
        self.factor = rng.choice((1.0, 1.0, 0.8, 0.9, 1.1, 1.2, 1.5))
        self.district = rng.choice(DISTRICTS + COUNTIES)

    def text(self, text: str) -> str:
        rng = self.rng
        text = _DISTRICT.sub(lambda m: self.places[m.group()], text)
        text = _ROAD.sub(lambda m: self.roads[m.group()], text)
        text = _SUBDISTRICT.sub(lambda m: self.subs[m.group()], text)
        text = _YEAR.sub(lambda m: f"{int(m.group(1)) + self.shift}年", text)
        if self.factor != 1.0:
            text = _AMOUNT.sub(lambda m: f"{self._amount(int(m.group(1)))}{m.group(2)}", text)
        if rng.random() < 0.3:
            text = _PHONE.sub(lambda m: f"{m.group(1)}{rng.randint(0, 9999):04d}", text)
        return text

    def _amount(self, value: int) -> int:
        scaled = value * self.factor
        return int(round(scaled, -1)) if value >= 100 else max(1, round(scaled))

    def body(self, row: dict[str, Any]) -> str:
        rng = self.rng
        paras = [_shuffle_lists(rng, p) if rng.random() < 0.3 else p
                 for p in row["body"].split("\n\n")]
        if len(paras) > 3 and rng.random() < 0.2:
            middle = paras[1:-1]
            rng.shuffle(middle)
            paras[1:-1] = middle
        pool = _pool(row)
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            if pool:
                paras.insert(rng.randint(1, len(paras)), rng.choice(pool))
        if rng.random() < 0.5:
            paras.append(_local(rng, self.district))
        return self.text("\n\n".join(paras))[:20000]

    def title(self, row: dict[str, Any]) -> str:
        rng, title = self.rng, self.text(row["title"])
        roll = rng.random()
        if roll < 0.25 and not _DISTRICT.search(title):
            return f"{self.district}{title}"
        if roll < 0.4:
            return f"{title}（{TODAY.year + self.shift}年版）"
        if roll < 0.5:
            return f"{title}（{rng.choice(SUBDISTRICTS)}）"
        return title


def _drawn(n: int, seed: int) -> tuple[random.Random, dict[str, Any]]:
    """Article n's generator and the sample article it varies (its first draw)."""
    rng = random.Random(seed * 1_000_003 + n)
    return rng, rng.choice(sample_rows())


def origin(n: int, seed: int = SEED) -> str:
    """The source id of the sample article that article n varies."""
    return str(_drawn(n, seed)[1]["source_id"])


def article(n: int, seed: int = SEED) -> dict[str, Any]:
    """Article n (1-based) as an import row (dates as dates), the same for the same n."""
    rng, base = _drawn(n, seed)
    vary = Varier(rng)
    keywords = list(base["keywords"])
    if keywords and rng.random() < 0.3:
        keywords.append(f"{vary.district}{keywords[0]}"[:40])
    effective = date.fromisoformat(base["effective_from"]) if base["effective_from"] else None
    if effective is not None:
        effective = min(TODAY, effective + timedelta(days=365 * min(vary.shift, 0)))
    expires: date | None = None
    if rng.random() < 0.03:  # expired: never found
        expires = TODAY - timedelta(days=rng.randint(1, 400))
        effective = expires - timedelta(days=rng.randint(30, 700))
    elif base["expires_at"]:
        expires = TODAY + timedelta(days=rng.randint(10, 400))
    audience = "internal" if base["audience"] == "internal" or rng.random() < 0.012 else "public"
    ref = base["source_ref"]
    if ref:
        ref = _DOC.sub(lambda m: f"〔{int(m.group(1)) + vary.shift}〕{rng.randint(1, 60)}号", ref)
    return {"source_id": f"GEN-{n:06d}", "title": vary.title(base), "body": vary.body(base),
            "kind": base["kind"], "category": base["category"], "keywords": keywords,
            "synonyms": list(base["synonyms"]), "owning_unit": base["owning_unit"],
            "audience": audience, "effective_from": effective,
            "review_by": date.fromisoformat(base["review_by"]) if base["review_by"] else None,
            "expires_at": expires, "source_ref": ref}


def articles(count: int, seed: int = SEED) -> Iterator[dict[str, Any]]:
    for n in range(1, count + 1):
        yield article(n, seed)


def details(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in ("kind", "audience", "keywords", "synonyms",
                                         "owning_unit", "effective_from", "review_by",
                                         "expires_at", "source_ref")}


def write_of(row: dict[str, Any]) -> Write:
    """The import's Write of a row (the samples' categories and units are the directory's)."""
    return Write(title=row["title"], body=row["body"], category=Category(**row["category"]),
                 details=ArticleDetails(**details(row)), source_id=row["source_id"])


def published_of(row: dict[str, Any]) -> ArticlePublished:
    """What importing the row publishes (version 1, the id derived from the source id)."""
    return ArticlePublished(article_id=imported_id(row["source_id"]), version=1,
                            title=row["title"], body=row["body"],
                            category=Category(**row["category"]), **details(row))


# -- what is asked ----------------------------------------------------------------------------

TYPED = (  # colloquial questions as typed into a search box
    "停水了什么时候来水", "家里突然没电了找谁", "暖气不热怎么投诉", "燃气费在哪里交",
    "公积金怎么取出来付房租", "社保断交了怎么补", "身份证丢了怎么补办", "孩子上小学要什么材料",
    "楼上邻居半夜太吵", "小区门口摆摊占道", "老板拖欠工资不给怎么办", "在外地看病能报销吗",
    "老人办老年卡要什么", "辞职了能领失业金吗", "路灯坏了找哪个部门", "晚上工地施工太吵",
    "外卖吃出虫子怎么投诉", "网购退货商家不给退", "健身房跑路了卡里的钱", "电梯困人了怎么办",
    "户口迁过来要什么条件", "居住证怎么办理", "公交卡丢了能补吗", "水费为什么这么贵",
    "过期药品是什么垃圾", "树枝挡住窗户能砍吗", "出租车绕路怎么投诉", "养老金认证在哪里做",
    "孩子打疫苗要预约吗", "物业服务差能不交物业费吗", "消防通道被车堵了", "护照加急要多久",
    "低保怎么申请", "家里闻到煤气味", "井盖丢了很危险", "饭店油烟太大", "河里有人偷排污水",
    "试用期工资太低", "被公司辞退有补偿吗", "交通违章罚款怎么交", "大件垃圾怎么清运",
    "自来水发黄能喝吗", "二手房公积金贷款", "外地公积金能在这里贷款吗", "新生儿怎么上户口",
    "生孩子医保报销多少", "门诊慢特病怎么认定", "结婚登记要带什么", "买到假化肥怎么办",
    "旅游被强制购物", "幼儿园每个月多少钱", "考上大学路费有补助吗", "创业补贴怎么申请",
)
CONTACTS = (  # (category, what a caller says) for recommendations
    ("housing-provident-fund", "我在外面租房子住, 想把公积金取出来交房租, 要带什么材料?"),
    ("housing-provident-fund", "准备买二手房, 想用公积金贷款, 最多能贷多少, 多久能批下来?"),
    ("housing-provident-fund", "我从外地调到示例市工作, 以前交的公积金能不能转过来, 怎么转?"),
    ("housing-provident-fund", "公积金提取申请交上去半个月了钱还没到账, 网上也查不到进度。"),
    ("labour-social-security", "公司三个月没发工资了, 老板一直说再等等, "
     "我们十几个工人不知道去哪投诉。"),
    ("labour-social-security", "我辞职以后社保断了两个月, 新单位要给我交, 断的那两个月能不能补上?"),
    ("labour-social-security", "上个月被公司辞退了, 想问能不能领失业金, 每个月领多少, 在哪里申请?"),
    ("labour-social-security", "我母亲今年到退休年龄了, 社保交了十三年, 不满十五年怎么办?"),
    ("labour-social-security", "退休金这个月没到账, 说是没做养老金认证, 老人不会用手机怎么认证?"),
    ("public-security-household-registration", "身份证昨天在公交车上丢了, 下周要坐高铁出差, "
     "能不能办临时身份证?"),
    ("public-security-household-registration", "孩子刚出生一个月想上户口, 爸爸户口在外地, "
     "能不能落在妈妈这边?"),
    ("public-security-household-registration", "在示例市租房工作快一年了, 想办居住证, "
     "要准备哪些材料, 去哪个派出所?"),
    ("public-security-household-registration", "楼上邻居每天半夜拖椅子、蹦蹦跳跳, "
     "上去说了好几次也不听, 孩子没法睡觉。"),
    ("public-security-household-registration", "家里老人病危要出国看望, 护照还没办, 能不能加急?"),
    ("utilities", "我们小区从早上八点开始停水, 到现在都没来水, 也没看到停水通知。"),
    ("utilities", "家里暖气一直不热, 室内才十五度, 给热力公司打电话一直占线。"),
    ("utilities", "刚搬进新房, 燃气还没开通, 想问开通燃气要带什么, 需要预约吗?"),
    ("utilities", "只有我们家停电了, 邻居家都有电, 电费也交了, 不知道是什么原因。"),
    ("utilities", "厨房里闻到很重的煤气味, 已经把阀门关了, 现在该怎么办, 找谁来查?"),
    ("urban-management", "小区门口每天晚上都有人摆摊卖烧烤, 占了人行道, 油烟很大还很吵。"),
    ("urban-management", "旁边工地每天晚上十一点以后还在施工, 打桩声音很大, 吵得睡不着。"),
    ("urban-management", "我们楼下的路灯坏了快一个月了, 晚上黑乎乎的, 老人出门很不方便。"),
    ("urban-management", "小区垃圾好几天没人清运, 垃圾桶都满了, 天热味道很大招苍蝇。"),
    ("urban-management", "隔壁邻居在楼顶加盖了一间房, 还把阳台外扩了, 这算不算违建?"),
    ("market-regulation", "在网上买的衣服不合适想退, 商家说特价商品不退不换, 这合理吗?"),
    ("market-regulation", "办了三千块的健身卡, 健身房突然关门了, 老板联系不上, 钱能要回来吗?"),
    ("market-regulation", "点的外卖里吃出一根头发和一只虫子, 商家只肯退一半钱, 想投诉。"),
    ("health", "去年在外地住院没有做备案, 回来以后医保还能不能报销, 能报多少?"),
    ("health", "孩子快满一岁了, 想问打疫苗在哪里打, 要不要提前预约, 要带什么?"),
    ("education", "孩子明年上小学, 户口和房子不在一个学区, 到底在哪里报名上学?"),
    ("education", "我们是外地来务工的, 孩子想在这里上小学, 需要准备哪些材料?"),
    ("transport", "坐出租车司机故意绕路, 还不打表, 我记下了车牌号, 想投诉他。"),
    ("transport", "小区门口消防通道天天被私家车堵着, 万一着火消防车都进不来。"),
    ("transport", "我妈今年满六十五岁, 想办老年人乘车卡, 去哪里办, 要带什么?"),
    ("housing-construction", "电梯三天两头出故障, 昨天还困了人, 物业一直拖着不修。"),
    ("environment", "楼下饭店的油烟直接往我们窗户这边排, 家里都不敢开窗。"),
    ("civil-affairs", "家里老人八十多岁了, 生活不能自理, 想问居家养老有没有补贴, 怎么申请?"),
)
OPENINGS = ("市民来电反映: ", "来电人称: ", "市民咨询: ", "来电人表示, ", "市民来电: ")
PLACES = ("我住在{d}{s}{c}社区, ", "我家在{d}{r}, ", "我是{d}{c}小区的业主, ", "")
DETAILS = ("", "", "这个情况已经持续一个多星期了, ", "家里有老人和小孩, 实在等不起, ",
           "之前在网上查了半天也没弄明白, ", "打了好几个电话都说不归他们管, ")
CLOSINGS = ("", "请问该怎么办?", "希望尽快给个答复。", "麻烦帮忙问一下。", "之前打过电话没人管。")


def queries(seed: int = SEED) -> list[str]:
    """A few hundred search queries: 2-character words, 4-character phrases (the samples'
    keywords and how callers say them), colloquial questions, some with a district."""
    rng = random.Random(seed)
    terms = sorted({t for row in sample_rows() for t in (*row["keywords"], *row["synonyms"])})
    twos, fours = [t for t in terms if len(t) == 2], [t for t in terms if len(t) == 4]
    chosen = rng.sample(twos, min(100, len(twos))) + rng.sample(fours, min(120, len(fours)))
    chosen += list(TYPED) + [f"{rng.choice(DISTRICTS)}{q}" for q in rng.sample(TYPED, 30)]
    rng.shuffle(chosen)
    return chosen


def as_typed(rng: random.Random, said: str) -> str:
    """What a caller said as an operator types it: an opening, where they live, some detail
    and a closing around it."""
    place = rng.choice(PLACES).format(d=rng.choice(DISTRICTS), s=rng.choice(SUBDISTRICTS),
                                      c=rng.choice(COMMUNITIES), r=rng.choice(ROADS))
    return f"{rng.choice(OPENINGS)}{place}{rng.choice(DETAILS)}{said}{rng.choice(CLOSINGS)}"


def contacts(count: int = 150, seed: int = SEED) -> list[tuple[str, str]]:
    """(level1, contact text of 40–120 characters) as an operator types a caller's words."""
    rng = random.Random(seed + 1)
    found: list[tuple[str, str]] = []
    while len(found) < count:
        level1, said = rng.choice(CONTACTS)
        text = as_typed(rng, said)
        if 40 <= len(text) <= 120:
            found.append((level1, text))
    return found
