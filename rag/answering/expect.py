"""What kind of answer a question expects (a number, a date, a name) and whether a sentence offers one."""

from __future__ import annotations

import re
from enum import StrEnum


class Expect(StrEnum):
    NUMBER = "number"
    AMOUNT = "amount"
    MONEY = "money"
    AGE = "age"
    SPAN = "span"
    DAY = "day"
    DATE = "date"
    PERSON = "person"
    PLACE = "place"
    TITLE = "title"
    COMPARISON = "comparison"
    NAMES = "names"
    MODEL = "model"
    NAME = "name"
    ANY = "any"


_RULES: list[tuple[re.Pattern[str], Expect]] = [
    (re.compile(r"\b(?:which|what) (?:new |other |two |three |four |five |several )?(?:members|countries|nations|states|"
                r"companies|firms|groups|cities|parties|leaders|officials|people|organi[sz]ations|allies|partners)\b", re.I),
     Expect.NAMES),
    (re.compile(r"\bhow (?:does|do|did|is|are|was|were|has|have) .+? compare(?:s|d)? (?:with|to|against)\b", re.I),
     Expect.COMPARISON),
    (re.compile(r"\bwhat (?:is|was|are|were) the (?:title|name)s? of (?:the|a|an|this|that|his|her|their|its) (?:[\w-]+ )?"
                r"(?:statement|document|report|book|film|article|operation|plan|agreement|treaty|declaration|programme|"
                r"program|initiative|strategy|policy|doctrine|song|album|series|law|bill|resolution|speech|essay)\b|"
                r"\btitle of\b|\b(?:what|how) (?:is|was|are|were) (?:it|they|this|that|the [\w-]+) (?:called|named|titled|"
                r"entitled|dubbed)\b", re.I), Expect.TITLE),
    (re.compile(r"\bhow old\b|\bwhat age\b", re.I), Expect.AGE),
    (re.compile(r"\bhow long (?:has|had|have|is|was) it been\b|\bhow long ago\b|\bhow many years (?:has|had|have) "
                r"(?:it been|passed|elapsed)\b", re.I), Expect.SPAN),
    (re.compile(r"\b(what|which) (exact |specific |precise )?(date|day)\b|\bexact date\b", re.I), Expect.DAY),
    (re.compile(r"\b(when|what (year|date|day|month|time)|which (year|date|day|month)|in what year|since when)\b", re.I),
     Expect.DATE),
    (re.compile(r"\bhow much\b(?=[^?]*\b(?:worth|cost|costs|costing|valued|price|priced|spend|spent|pay|paid)\b)|"
                r"\bwhat (?:is|was|are|were) the (?:total |overall |estimated |combined )?(?:value|cost|price|worth)\b",
                re.I), Expect.MONEY),
    (re.compile(r"\bhow much\b", re.I), Expect.AMOUNT),
    (re.compile(r"\b(how (many|much|old|large|big|long|far)|what (percentage|percent|share|portion|proportion|"
                r"fraction|number|amount|value|size|sum|figure|total)|what (is|was|are|were) (the |\w+'s )?(population|"
                r"gdp|value|size|cost|price|total|number|amount|rate|\w+ rate))\b", re.I), Expect.NUMBER),
    (re.compile(r"\b(who|whom|whose|what is the name of|what was the name of|name the)\b|\b(which|what) "
                r"(?:(?:(?-i:[A-Z])[\w.]*|former|deputy|vice|foreign|prime|national|security|senior|top|chief|defen[cs]e|"
                r"finance|trade|economic|military) ){0,4}(?:president|leader|minister|official|politician|chancellor|king|"
                r"queen|secretary|spokes(?:man|woman|person)|general|ambassador|diplomat|analyst|expert|journalist|author|"
                r"adviser|advisor|commander|envoy|senator|governor|mayor|ceo|chairman|chief)\b", re.I), Expect.PERSON),
    (re.compile(r"\b(where|which (?:(?-i:[A-Z])[\w’'-]+ )?(city|country|town|region|province|port)|"
                r"in what (city|country))\b", re.I), Expect.PLACE),
    (re.compile(r"\b(?:which|what) (?:article|section|clause|chapter|paragraph|provision|point)s? (?:of|in)\b", re.I),
     Expect.NUMBER),  # a numbered provision: 'Article 4'
    (re.compile(r"\b(?:what|which) (?:[\w-]+ ){0,3}?(?:model|variant|designation)s?\b", re.I), Expect.MODEL),
    (re.compile(r"\bwhich (?!(?:one|ones|of|way|side|part|kind|type|sort|is|are|was|were|did|does|do|has|have)\b)[a-z]+\b", re.I),
     Expect.NAME),  # 'Which treaty did it replace?': a named one
]
_NUMBER = re.compile(r"(?<![\d.,])(?!(?:1[89]|20)\d\d\b)\d+(?:[.,]\d+)*|\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"thirteen|fourteen|fifteen|twenty|thirty|forty|fifty|hundred|dozen|doubling|tripled)\b", re.I)
_AMOUNT = re.compile(r"(?:US|A|C|HK)?[$€£¥]\s?\d[\d,.]*(?:\s*(?:billion|million|trillion|bn|m)\b)?|\d[\d,.]*\s*(?:%|percent\b|"
                     r"per cent\b|(?:billion|million|trillion|thousand)\b(?:\s+\w+)?|(?:dollars|euros|rubles|roubles|yuan|"
                     r"won|dong|pounds|yen|tons|tonnes|barrels)\b)", re.I)
_MONEY = re.compile(r"(?:US|A|C|HK)?[$€£¥]\s?\d|\d[\d,.]*\s*(?:(?:billion|million|trillion|bn)\s+)?(?:dollars|euros|rubles|"
                    r"roubles|yuan|won|dong|pounds|yen)\b", re.I)
_SPAN = re.compile(r"\b(?:\d[\d,.]*|a|an|one|two|three|four|five|six|seven|eight|nine|ten|several|few|many)[\s-]+"
                   r"(?:day|week|month|year|decade|centur(?:y|ie))s?\b", re.I)
_AGE = re.compile(r"\b\d{1,3}[- ]years?[- ]old\b|\baged \d{1,3}\b|,\s\d{1,3},", re.I)
_DAY = re.compile(r"\b(January|February|March|April|May|June|July|August|September|October|November|December)"
                  r"\s+\d{1,2}\b|\b\d{1,2}\s+(January|February|March|April|May|June|July|August|September|October|"
                  r"November|December)\b|\b\d{4}-\d\d-\d\d\b")
_PLACE = re.compile(r"\b(?:in|at|near|outside|to|from|into)\s+(?:the\s+)?([A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*)")
_TITLED = re.compile(r"[“\"«][^”\"»]{3,}[”\"»]|\b(?:entitled|titled|called|named|dubbed|known as)\s+[“\"«]?[A-Z]")
_DESIGNATION = re.compile(r"\b[A-Za-z]*[A-Z][A-Za-z]*-?\d+[A-Za-z]*\b")  # 'Shahed-136', 'Su-57', 'F-16', 'T-90M'
_COMPARES = re.compile(r"\b(than|compared|comparison|versus|vs|whereas|twice|double|triple|half|exceed\w*|surpass\w*|"
                       r"outpac\w*|outstrip\w*|relative to|ahead of|behind)\b", re.I)
_ENUMERATION = re.compile(r"\b[A-Z][\w’'.-]*(?:\s[A-Z][\w’'.-]*)*(?:,\s(?:the\s)?[A-Z][\w’'.-]*(?:\s[A-Z][\w’'.-]*)*)*,?"
                          r"\s(?:and|or)\s(?:the\s)?[A-Z][\w’'.-]*(?:\s[A-Z][\w’'.-]*)*")
_WHICH_TOWN = re.compile(r"\b(?:which|what) (?:(?-i:[A-Z])[\w’'-]+ )?(?:city|town|port)\b", re.I)
_TOWN = re.compile(r"\b(?:city|town|port) of ([A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+)*)")  # 'the southern Chinese city of Guilin'
_WHICH_PLACE = re.compile(r"\bwhich (city|country|town|region|province)\b", re.I)  # the place is named, not located
_YEAR_OR_DATE = re.compile(r"\b(1[89]\d\d|20\d\d)\b|\b(?-i:January|February|March|April|May|June|July|August|September|"
                           r"October|November|December|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b|"
                           r"\b(last|this|next) (year|month|week)\b|\b(yesterday|today)\b|\b\d{4}-\d\d-\d\d\b", re.I)
_NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zà-ÿ’'-]+(?:\s+[A-Z][\w’'-]+)*")
_APPOSITIVE = re.compile(r"\s*([A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+){1,2}),\s")
_VALUE = {  # kinds whose answer is a value the pattern finds
    Expect.NUMBER: _NUMBER,
    Expect.AMOUNT: _AMOUNT,  # 'how much': a sum, a share or a quantity with its unit, not a bare count
    Expect.MONEY: _MONEY,  # 'how much is it worth': a sum of money, not a share
    Expect.SPAN: _SPAN,  # 'How long had it been since…': a stretch of time ('24 years')
    Expect.AGE: _AGE,
    Expect.DAY: _DAY,
    Expect.MODEL: _DESIGNATION,  # 'What drone model…': a designation ('HESA Shahed-136', 'Su-57')
    Expect.TITLE: _TITLED,  # a quoted or 'entitled…' name
    Expect.DATE: _YEAR_OR_DATE,
}
_SPLIT = re.compile(r",?\s+and\s+(?=(?:what|which|who|whom|when|where|how|why|in what|does|did|is|was|are|were)\b)",
                    re.I)


def expected(question: str) -> Expect:
    """The answer type the question's wording asks for (ANY when it does not say)."""
    head = question.strip()
    first: tuple[int, Expect] | None = None
    for pattern, kind in _RULES:
        m = pattern.search(head)
        if m and (first is None or m.start() < first[0]):
            first = (m.start(), kind)
    return first[1] if first else Expect.ANY


_POLAR = re.compile(r"^\s*(?:is|was|are|were|has|have|had|does|do|did|will|would|can|could|should)\b", re.I)
_CLAUSE = re.compile(r"^(?:is|was|are|were|has|have|had|does|do|did|will|would|can|could|should)\b", re.I)


def is_polar(question: str) -> bool:
    """A yes/no question ('Is the treaty a threat to South Korea?')."""
    return bool(_POLAR.match(question))


def split_parts(question: str) -> list[str]:
    """'What did X do, and when did Y happen?' -> two sub-questions; so does a yes/no question with two
    alternatives ('Was the trip a sign of desperation or of growing influence?'), one per side. Most questions
    have one part."""
    parts = [p.strip(" ,?") for p in _SPLIT.split(question) if p and p.strip(" ,?")]
    if len(parts) > 1:
        return [p + "?" for p in parts]
    sides = _alternatives(question) or _compared(question)
    return sides or [question]


_COMPARED = re.compile(r"^\s*how (?:does|do|did|is|are|was|were|has|have) (.+?) compare[sd]? (?:with|to|against) "
                       r"(?!(?:that|those|the ones?)\b)(.+?)\s*\?*\s*$", re.I)


def _compared(question: str) -> list[str]:
    """The two sides of 'How does A compare with B?' (each needs its own evidence), unless B only points back at A
    ('…compare with that of the BRICS bloc'). A follow-up's 'that' is the context it carries in parentheses."""
    carried = re.search(r"\s*\(([^()]*)\)\s*\??\s*$", question)
    m = _COMPARED.match(question[: carried.start()] if carried else question)
    if not m:
        return []
    first = m.group(1)
    if carried and first.lower() in {"that", "this", "it", "they", "these", "those"}:
        first = carried.group(1)
    return [first + "?", m.group(2) + "?"]


def _alternatives(question: str) -> list[str]:
    """The two sides of 'Is A … X, or Y?': Y replaces the first side's closing words from the word it starts with
    ('a sign of desperation or of growing influence'), or else as many closing words as it has."""
    if not _POLAR.match(question) or question.lower().count(" or ") != 1:
        return []
    first, second = (p.strip(" ,?") for p in re.split(r",?\s+or\s+", question.strip(), flags=re.I))
    if not first or not second:
        return []
    if _CLAUSE.match(second):  # '…, or does it still depend on Russian arms imports?'
        return [first + "?", second[:1].upper() + second[1:] + "?"]
    head, lead = first.split(), second.split()[0].lower()
    same = [i for i, w in enumerate(head) if w.lower() == lead and i > 0]  # '…a sign of desperation or of growth'
    cut = same[-1] if same else max(1, len(head) - len(second.split()))
    return [first + "?", " ".join(head[:cut] + [second]) + "?"]


def offers(sentence: str, kind: Expect, question: str) -> bool:
    """Whether the sentence contains a value of the expected kind that the question does not already state."""
    if kind is Expect.ANY:
        return True
    asked = question.lower()
    value = _VALUE.get(kind)
    if value is not None:  # a value of that kind the question does not already state
        return any(m.group(0).lower() not in asked for m in value.finditer(sentence))
    if kind is Expect.PLACE and _WHICH_TOWN.search(question):  # 'In which Chinese city…': a town located or called so
        towns = (*_PLACE.finditer(sentence), *_TOWN.finditer(sentence))
        return any(all(w.lower() not in asked for w in m.group(1).split()) for m in towns)
    if kind is Expect.PLACE and not _WHICH_PLACE.search(question):  # 'Where…': a place after in/at/near/to/from
        return any(all(w.lower() not in asked for w in m.group(1).split()) for m in _PLACE.finditer(sentence))
    if kind is Expect.NAMES:  # 'Which countries…': named ones, listed ('Egypt, Ethiopia and Iran'), one not asked
        return any(any(_new_item(item, asked) for item in re.split(r",\s(?:and\s|or\s)?|\s(?:and|or)\s", m.group(0)))
                   for m in _ENUMERATION.finditer(sentence))
    if kind is Expect.COMPARISON:  # 'How does X compare with Y?': a sentence that sets one against the other
        return bool(_COMPARES.search(sentence))
    names = [m.group(0).split() for m in _NAME.finditer(sentence)]
    opening = _APPOSITIVE.match(sentence)  # 'Saeed Khatibzadeh, spokesman for…': a name may open the sentence
    if opening:
        names.append(opening.group(1).split())
    if kind is Expect.PERSON:  # a person is named by at least two capitalised words, after a title the question used
        names = [_untitled(n, asked) for n in names if len(n) >= 2]  # 'Deputy Foreign Minister Andrei Rudenko'
        names = [n for n in names if n]
    return any(all(w.lower() not in asked for w in n) for n in names)


def _new_item(item: str, asked: str) -> bool:
    """A listed name none of whose words the question used ('Defense Secretary Lloyd Austin' is not new to a
    question about Lloyd Austin)."""
    words = [w.strip(".’'").lower() for w in re.findall(r"[A-Z][\w’'.-]*", item)]
    return bool(words) and not any(re.search(rf"\b{re.escape(w)}\b", asked) for w in words if len(w) > 2)


def _untitled(name: list[str], asked: str) -> list[str]:
    """The name without the leading words the question already used (its title: 'Deputy Foreign Minister')."""
    i = 0
    while i < len(name) - 1 and re.search(rf"\b{re.escape(name[i].lower())}\b", asked):
        i += 1
    return name[i:]
