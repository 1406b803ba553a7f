"""Precompiled regular expressions of the rules extractor, by rule family.

Kept apart from the control flow in ``rules.py`` so the patterns can grow without touching the logic; the words they
are built from live in ``_lexicon.py``. All patterns run on text already normalised by
:func:`tenantry.pipeline.split.normalize_text` (straight quotes, NFKC).
"""

from __future__ import annotations

import re

from ._lexicon import ADV
from ._lexicon import ADVERBS
from ._lexicon import BUSINESSES
from ._lexicon import CONDITIONS
from ._lexicon import DEMONYMS
from ._lexicon import EMOTION_WORDS
from ._lexicon import IDENTITIES
from ._lexicon import INSTRUMENTS_SPORTS
from ._lexicon import IRREGULAR_PAST
from ._lexicon import PETS
from ._lexicon import PROFESSIONS
from ._lexicon import RELATIONS
from ._lexicon import alternation

_I = re.IGNORECASE

# ------------------------------------------------------------------------------------------------- sentences

# Interjections dropped from the start of a clause. The first group may stand without punctuation ("So I went");
# the second only counts when punctuation follows ("Sure, I ...", but not "See you Saturday").
INTERJECTION = re.compile(
    r"^(?:(?:(?:oh|ah|um|uh|ugh|well|so|yeah|honestly|actually|anyway|anyways|btw|by the way|also|and|but|lol|"
    r"haha+|lmao|omg|i mean|ok|okay|oh wow|oh no|hmm+|plus|fun fact|guess what)\b\s*[,!.:;-]*|(?:yes|yep|yup|no|"
    r"nope|wow|hah|aw+|ya|yea|sure|right|listen|look|see|fyi|ps|p\.s\.|true|totally|exactly|agreed|same|oof|whoa|"
    r"gosh|man|dude|hey|hi|hello|yo|great|cool|nice|awesome|sounds good|good news|bad news|thanks|thank you|"
    r"(?:hi|hey|hello|thanks|thank you)\s+[A-Z][a-z]+)\s*[,!.:;-]+)\s+)+",
    _I,
)
GREETING_PREFIX = re.compile(
    r"^(?:hi|hey|hello|good (?:morning|afternoon|evening)|thanks|thank you(?: so much)?)(?:\s+(?:there|guys|all|"
    r"everyone|[A-Z][a-z]+))?\s*[,!.]+\s*",
    _I,
)
TAG_QUESTION = re.compile(
    r",?\s*(?:right|don't you|do you|didn't you|isn't it|aren't you|you know|what about you|how about you|and you|"
    r"haven't you|have you|wouldn't you|huh|eh|yeah)\s*\?+\s*$",
    _I,
)
STATEMENT_START = re.compile(
    r"^(?:I|I'm|I've|I'd|I'll|We|We're|We've|My|Our)\b(?!.*\b(?:what|how|why|where|when|which|who)\b)"
)
QUESTION_START = re.compile(
    r"^(?:what|how|why|where|when|who|whom|which|whose|does|did|are|is|can|could|would|will|should|have|has|"
    r"shall|am|isn't|aren't|didn't|won't|wouldn't|doesn't|haven't|hasn't|was|were|any|anything)\b(?!\s+not\b)",
    _I,
)
CAPTION_TAIL = re.compile(r"\s*\[shares [^\]]*\]\s*$")
CHAT_FIXES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<![\w'])i(?=(?:'[a-z]+)?\b)(?!\.)"), "I"),
    (re.compile(r"\bim\b"), "I'm"),
    (re.compile(r"\bive\b"), "I've"),
    (re.compile(r"\b(dont|cant|wont|didnt|doesnt|isnt|wasnt|havent|hasnt|couldnt|wouldnt)\b", _I), "__APOS__"),
)
CLAUSE_SPLIT = re.compile(
    r"\s*;\s+|,?\s+(?:and|but|so|although|though|while|whereas|plus)\s+(?=(?:I|I'm|I've|I'd|I'll|we|we're|"
    r"we've|my|My|our|Our)\b)|,\s+(?=(?:I|I'm|I've|I'd|I'll)\s)"
)
INHERIT_SPLIT = re.compile(
    r",?\s+(?:and|but)\s+(?=(?:also\s+|really\s+|still\s+|usually\s+|always\s+|never\s+)?(?:lives?|works?|loves?|"
    r"likes?|enjoys?|hates?|avoids?|prefers?|have|has|speaks?|plays?|drives?|owns?|runs?|teach|teaches|study|studies|"
    r"am|'m|is)\b)"
)
INHERITABLE_SUBJECT = re.compile(
    r"^(?:I|We|(?:My|Our)\s+(?:[\w-]+\s+)?(?:"
    + RELATIONS
    + "|"
    + PETS
    + r")(?:\s+[A-Z][a-z]+)?|[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)"
    r"(?=\s|'(?:m|re|ve|s)\b)"
)
FILLER = re.compile(
    r"^(?:(?:hi|hey|hello|bye|goodbye|good ?night|good morning|thanks|thank you|thx|ty|ok|okay|sure|yes|no|yeah|"
    r"nope|cool|great|awesome|nice|lol|haha|wow|see you|see ya|take care|sounds good|got it|will do|np|"
    r"no problem|you're welcome|congrats|congratulations|cheers|best regards|regards|best|sincerely)\b[\s,!.?]*)+$",
    _I,
)

# ------------------------------------------------------------------------------------------------- facts

_BE = r"(?:'m|'s|'re|\s+am|\s+is|\s+are|\s+was|\s+were|(?:'ve|'s|\s+have|\s+has)\s+been)"
_HAVE = r"(?:\s+have|\s+has|'ve\s+got|'s\s+got|\s+have\s+got|\s+has\s+got|'ve)"
_STOP = (
    r"(?=\s+(?:as|since|for\s+(?:the\s+)?(?:past\s+|last\s+)?(?:\d+|a|an|one|two|three|four|five|six|seven|eight|"
    r"nine|ten|about|over|almost|nearly|many|several|a few|years|months)\b|and|but|because|now|these days|right now|"
    r"at the moment|currently|anymore|last|next|this|until|ago|when|while|so|though|although|which|who|where|"
    r"with|on|in\s+(?:19|20)\d\d)\b|\s*[,.;!?()]|\s*$)"
)
VAL = r"\s+(?P<v>[^,.;!?()]{1,60}?)" + _STOP
NAME_TOKEN = r"[A-Z][a-z]+(?:-[A-Za-z]+|'(?!s\b)[A-Za-z]+)?"
SUBJECT = (
    r"(?P<subj>\bI\b|\b[Ww]e\b|\b(?:[Mm]y|[Oo]ur)\s+(?:(?:little|big|older|younger|baby|best|eldest|oldest|"
    r"youngest|step|twin|late|new|ex-?)\s*)?(?P<rel>"
    + RELATIONS
    + r"|"
    + PETS
    + r")\b(?:,?\s+(?P<relname>"
    + NAME_TOKEN
    + r")\b,?)?|(?P<name>\b(?!(?:The|My|Our|This|That|It|He|She|They|We|You|Your|His|Her|Their|There|Here|A|An|"
    r"So|But|And|Also|Then|If|When|What|How|Why|Where|Who|Which|Just|Maybe|Yes|No|Oh|Well|Please|Thanks|Hi|"
    r"Hey|Hello|Sorry|Sure|Ok|Okay|Honestly|Actually|Anyway|Every|Each|All|Some|Most|Today|Tomorrow|Yesterday|"
    r"Tonight|Last|Next|Work|Life|Everything|Nothing|Someone|Everyone|Nobody)\b)"
    + NAME_TOKEN
    + r"(?:\s+"
    + NAME_TOKEN
    + r")?)\b)"
)


SUBJECT_RX = re.compile(SUBJECT)
# A run of capitalised words (a brand, a product, an airline): "Air France", "KLM", "Model 3".
_PROPER_RUN = r"(?:[A-Z0-9][\w.+&'-]*(?:\s+(?:[A-Z0-9][\w.+&'-]*|of|de|du|la))*)(?![\w'-])"
# Who a note or document speaks of in the third person ("The user's favourite colour is teal", "User prefers ...").
REFERENTS = frozenset({"user", "customer", "client"})
THE_REFERENT = re.compile(r"^(?:the|this|our)\s+(user|customer|client)\b", re.IGNORECASE)


def _fact(attr: str, predicate: str, *, perpetual: bool = False) -> tuple[str, re.Pattern[str], bool]:
    # Predicates are matched anchored at the end of a subject found once per clause by SUBJECT_RX: scanning
    # for the subject in every rule would dominate the extractor's run time.
    return attr, re.compile(ADV + predicate), perpetual


# (attribute, predicate pattern, perpetual). Order matters: the first match gives the draft's primary attribute.
FACT_RULES: tuple[tuple[str, re.Pattern[str], bool], ...] = (
    _fact(
        "job",
        _BE
        + ADV
        + r"\s+(?:an?\s+|the\s+(?:only|lead|main|sole|senior|new|head|resident|staff)\s+)(?P<v>(?:[\w-]+\s+){0,3}?"
        + PROFESSIONS
        + r")\b(?!\s+(?:of|about)\b)",
    ),
    _fact("job", r"(?:\s+got|\s+was|\s+were|\s+just\s+got|'ve\s+been|\s+have\s+been)?\s+promoted\s+to" + VAL),
    _fact(
        "job",
        _BE + r"\s+the\s+(?P<v>(?:head|director|manager|ceo|cto|cfo|coo|founder|co-founder|owner|lead|chair|president|"
        r"vp|principal|chief)\b[^,.;!?]{0,60})",
    ),
    _fact(
        "works_at",
        r"(?:\s+(?:work|works)|" + _BE + r"\s+(?:working|employed)|(?:'ve|\s+have|\s+has)\s+(?:been\s+working|worked)"
        r"|\s+(?:got\s+a\s+job|started\s+(?:a\s+new\s+job\s+)?working|just\s+started))"
        + ADV
        + r"\s+(?:full[- ]time\s+|part[- ]time\s+|remotely\s+)?(?:at|for)"
        + VAL,
    ),
    _fact("job", r"\s+works?(?:\s+[\w-]+){0,3}?\s+as\s+(?:an?\s+)?" + VAL.replace(r"\s+(?P<v>", r"(?P<v>", 1)),
    _fact("worked_at", r"\s+worked\s+(?:at|for)" + VAL),
    _fact("teaches", r"\s+(?:teach|teaches|coach|coaches|tutor|tutors)\s+(?P<v>[^,.;!?]{2,60})"),
    _fact(
        "responsible_for",
        r"(?:\s+will|'ll|\s+is|'s|'m|\s+am)?\s+(?:own|owns|lead|leads|handle|handles|drive|drives|be\s+responsible\s+for|"
        r"responsible\s+for|in\s+charge\s+of|take\s+over|taking\s+over|leading|owning|handling)\s+(?:the\s+)?"
        r"(?P<v>(?:[\w-]+\s+){0,3}?(?:plan|project|migration|rollout|launch|release|team|effort|initiative|process|"
        r"account|budget|roadmap|review|program|programme|design|strategy|onboarding|hiring|integration|"
        r"deployment|workstream|pipeline|report|presentation|campaign))\b",
    ),
    _fact(
        "has",
        r"(?:'ve|\s+have|\s+has|'s)\s+had\s+(?P<v>(?:an?|this|that|my|our|the)\s+[^,.;!?]{1,40}?)\s+(?:for|since)\b",
    ),
    _fact(
        "work_arrangement",
        r"\s+works?\s+(?P<v>remotely|from home|from the office|nights|night shifts?|part[- ]time|full[- ]time|two jobs|"
        r"weekends|in (?:sales|marketing|finance|tech|healthcare|retail|education|hr|it|construction|hospitality))\b",
    ),
    _fact(
        "lives_in",
        r"(?:\s+(?:live|lives|reside|resides)|" + _BE + r"\s+(?:living|based|staying|settled)|(?:'ve|\s+have|\s+has)"
        r"\s+(?:been\s+living|lived)|\s+(?:moved|relocated)(?:\s+back)?(?:\s+from\s+[^,.;!?]{1,40}?(?=\s+to\b))?)"
        + ADV
        + r"\s+(?:in|near|outside(?:\s+of)?|to|out\s+of)"
        + VAL,
    ),
    _fact("living_situation", r"\s+(?:live|lives)\s+(?P<v>alone|with\s+(?:my|our|a|two|three|\w+)[^,.;!?]{0,40})"),
    _fact("from", _BE + r"\s+(?:originally\s+)?from" + VAL, perpetual=True),
    _fact("from", r"\s+(?:come|comes)\s+from" + VAL, perpetual=True),
    _fact("grew_up_in", r"\s+grew\s+up\s+(?:in|on|near|around)" + VAL, perpetual=True),
    _fact("birthplace", r"\s+(?:was|were)\s+born\s+(?:and\s+raised\s+)?in" + VAL, perpetual=True),
    _fact("nationality", _BE + r"\s+(?:half[- ])?(?P<v>" + DEMONYMS + r")\b(?!\s+(?:food|cuisine|music|movies))"),
    _fact(
        "age",
        _BE + r"\s+(?:almost\s+|nearly\s+|about\s+)?(?P<v>\d{1,3})(?:\s+years?\s+old|\s*(?:yo|y/o)\b|(?=\s*[,.;!]|\s*$|"
        r"\s+(?:and|but|now|this|next|today|already|years)\b))",
    ),
    _fact("age", r"\s+(?:just\s+)?turned\s+(?P<v>\d{1,3})\b"),
    _fact("age", r"(?:\s+will\s+be|'ll\s+be|'m\s+turning|\s+am\s+turning|\s+is\s+turning)\s+(?P<v>\d{1,3})\b"),
    _fact(
        "relationship_status",
        _BE + ADV + r"\s+(?P<v>married|single|divorced|engaged|widowed|separated|in a relationship|seeing someone|"
        r"dating\s+(?:someone|[A-Z]\w+))\b",
    ),
    _fact("relationship_status", r"\s+(?:just\s+)?got\s+(?P<v>married|engaged|divorced)\b"),
    _fact(
        "allergy",
        _BE + ADV + r"\s+(?:severely\s+|very\s+|deathly\s+|super\s+|mildly\s+)?allergic\s+to" + VAL,
        perpetual=True,
    ),
    _fact(
        "allergy",
        _HAVE + r"\s+(?:an?\s+)?(?:severe\s+|mild\s+|bad\s+)?(?P<v>[\w ]{2,30}?)\s+allerg(?:y|ies)\b",
        perpetual=True,
    ),
    _fact("intolerance", _BE + ADV + r"\s+(?P<v>lactose|gluten|fructose)[- ]intolerant\b", perpetual=True),
    _fact(
        "diet",
        _BE
        + ADV
        + r"\s+(?:an?\s+)?(?:strict\s+)?(?P<v>vegetarian|vegan|pescatarian|pescetarian|keto|paleo|gluten[- ]free|"
        r"dairy[- ]free|kosher|halal|sober|teetotal|plant[- ]based)\b",
    ),
    _fact(
        "pet",
        r"(?:"
        + _HAVE
        + r"|\s+own|\s+owns|\s+adopted|\s+rescued|\s+got)\s+(?:(?:an?|two|three|four|\d+|one|another)\s+)?"
        r"(?:[\w-]+\s+){0,2}?(?P<v>" + PETS + r")\b(?:\s*,?\s+(?:named|called)\s+(?P<n>[A-Z]\w+))?",
    ),
    _fact(
        "children",
        r"(?:" + _HAVE + r")\s+(?P<v>(?:an?|one|two|three|four|five|six|\d+|no|twin)\s+(?:(?:little|young|grown|"
        r"grown-up|adult|teenage|older|younger|wonderful|amazing|beautiful)\s+)?(?:kids?|children|child|sons?|"
        r"daughters?|boys?|girls?|grandkids|grandchildren|twins|stepkids|stepchildren))\b",
    ),
    _fact(
        "siblings",
        r"(?:" + _HAVE + r")\s+(?P<v>(?:an?|one|two|three|four|five|\d+|no)\s+(?:(?:older|younger|little|big|twin)\s+)?"
        r"(?:siblings?|brothers?|sisters?))\b",
    ),
    _fact(
        "children",
        _BE + r"\s+(?:an?\s+)?(?:proud\s+)?(?P<v>(?:mom|mother|dad|father|parent|grandma|grandmother|grandpa|"
        r"grandfather)\s+(?:of|to)\s+\w+)",
    ),
    _fact(
        "languages",
        r"\s+(?:speak|speaks)\s+(?:fluent\s+)?(?P<v>[A-Z][a-z]+(?:(?:,|\s+and|\s+a\s+little|\s+some|\s+a\s+bit\s+of|"
        r"\s+fluent|\s+basic)+\s+[A-Z][a-z]+)*)",
    ),
    _fact("education", r"\s+(?:graduated|graduates)\s+from" + VAL, perpetual=True),
    _fact("education", r"(?:" + _HAVE + r")\s+an?\s+(?:\w+'s\s+|\w+\s+)?degree\s+in" + VAL, perpetual=True),
    _fact(
        "studies",
        r"(?:\s+(?:study|studies)|" + _BE + r"\s+(?:studying|majoring\s+in|a\s+student\s+at|enrolled\s+at|in\s+"
        r"(?:college|grad school|university|high school|med school|law school)\s+(?:at|for)))\s+"
        r"(?P<v>[A-Z][^,.;!?]{1,50}|"
        r"(?:computer science|biology|chemistry|physics|math|mathematics|economics|law|medicine|nursing|history|"
        r"psychology|engineering|art|music|business|finance|philosophy|english|literature)\b[^,.;!?]{0,40})",
    ),
    _fact(
        "car",
        r"\s+(?:drive|drives)\s+(?:an?\s+|the\s+)?(?P<v>(?:\d{4}\s+)?[A-Z][\w-]*(?:\s+[A-Z0-9][\w-]*)*|(?:old|new|"
        r"red|blue|black|white|silver|grey|gray|little|beat-up|used|electric)\s+[\w-]+)",
    ),
    _fact(
        "condition",
        r"(?:" + _HAVE + r"|\s+suffer\s+from|\s+suffers\s+from|\s+(?:was|were|got|'ve\s+been|have\s+been)\s+diagnosed"
        r"\s+with)\s+(?:an?\s+)?(?:mild\s+|severe\s+|chronic\s+)?(?P<v>" + CONDITIONS + r")\b",
        perpetual=True,
    ),
    _fact(
        "owns",
        r"\s+(?:run|runs|own|owns|co-own|co-owns|manage|manages|started|founded|co-founded|opened)\s+(?:an?\s+|my\s+"
        r"own\s+|our\s+own\s+|the\s+|a\s+small\s+)?(?P<v>(?:[\w'&-]+\s+){0,4}?" + BUSINESSES + r")\b",
    ),
    _fact(
        "owns",
        r"\s+(?:bought|purchased|own|owns|closed\s+on)\s+(?:an?|my|our|the)\s+(?:first\s+|new\s+|own\s+|little\s+|old\s+)*"
        r"(?P<v>house|home|apartment|flat|condo|townhouse|cabin|cottage|car|truck|van|boat|motorcycle|e-bike|bike)\b",
    ),
    _fact(
        "uses",
        r"(?:"
        + _BE
        + r"\s+(?:using|running|on)|\s+use|\s+uses)\s+(?P<v>[A-Z][\w.+#-]*(?:\s+(?:[A-Z0-9][\w.+#-]*|\d[\w.]*)){0,3})",
    ),
    _fact("plays", r"\s+(?:play|plays)\s+(?:the\s+)?(?P<v>" + INSTRUMENTS_SPORTS + r")\b"),
    _fact("volunteers", r"\s+(?:volunteer|volunteers)\s+(?:at|with|for)" + VAL),
    _fact(
        "activity",
        _BE
        + ADV
        + r"\s+(?P<v>(?:learning|studying|training\s+for|working\s+on|writing|building|saving\s+(?:up\s+)?for|"
        r"renovating|taking\s+(?:an?\s+)?(?:[\w-]+\s+)?(?:class|course|lessons?))\s*[^,.;!?]{0,50})",
    ),
    _fact(
        "membership",
        _BE + r"\s+(?:a\s+|an\s+)?(?:loyal\s+|long-time\s+|longtime\s+|paying\s+|premium\s+)?(?P<v>customer|member|"
        r"subscriber|client|patient)\b",
    ),
    _fact("identity", _BE + ADV + r"\s+(?:an?\s+)(?P<v>(?:[\w-]+\s+)?" + IDENTITIES + r")\b(?!\s+(?:of|about)\b)"),
    # What a person flies, drives, banks with, uses or works with ("I fly Air France", "We use Jira and Confluence").
    _fact("airline", r"\s+(?:fly|flies)\s+(?:with\s+)?(?P<v>" + _PROPER_RUN + r")"),
    _fact("bank", r"\s+(?:bank|banks)\s+with\s+(?P<v>" + _PROPER_RUN + r")"),
    _fact("car", r"\s+(?:drive|drives)\s+(?P<v>(?:an?|the|my|our)\s+[^,.;!?]{2,50}?)" + _STOP),
    _fact("uses", r"\s+(?:use|uses)\s+(?P<v>" + _PROPER_RUN + r"(?:\s*(?:,|and|&|or)\s*" + _PROPER_RUN + r"){0,4})"),
    _fact(
        "works_with",
        r"\s+(?:work|works)\s+with\s+(?P<v>(?!(?:what|it|them|him|her|that|this|you|me|us|my|our)\b)[^,.;!?]{2,60}?)"
        r"(?=\s+(?:every|each|at|for|since|because|daily|now|these|right|on|in\s+(?:my|our|the))\b|\s*[,.;!?]|\s*$)",
    ),
)
# Facts that are not a slot: a person uses and works with many things, so a new one never supersedes the last.
NO_SLOT = frozenset({"uses", "works_with"})

NAME_RULES: tuple[re.Pattern[str], ...] = (
    re.compile(r"\b[Mm]y\s+name(?:'s|\s+is)\s+(?P<v>" + NAME_TOKEN + r"(?:\s+" + NAME_TOKEN + r")?)"),
    re.compile(r"\b(?:[Cc]all|[Cc]alled)\s+me\s+(?P<v>" + NAME_TOKEN + r")"),
    re.compile(
        r"^(?:I'm|I\s+am)\s+(?P<v>"
        + NAME_TOKEN
        + r"(?:\s+"
        + NAME_TOKEN
        + r")?)\s*(?:[,.!]|$|\s+(?:and|from|by|here)\b)"
    ),
)
REL_NAME_RULES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"\b(?:[Mm]y|[Oo]ur)\s+(?:[\w-]+\s+)?(?P<rel>" + RELATIONS + "|" + PETS + r")(?:'s\s+name\s+is|\s+is\s+"
        r"(?:called|named)|,)\s+(?P<v>" + NAME_TOKEN + r")\b"
    ),
    re.compile(
        r"\b(?:[Mm]y|[Oo]ur)\s+(?:(?:little|big|older|younger|baby|best|eldest|youngest|twin)\s+)?(?P<rel>"
        + RELATIONS
        + "|"
        + PETS
        + r")\s+(?P<v>"
        + NAME_TOKEN
        + r")\b(?!\s+(?:Street|Avenue|Road|Day))"
    ),
)
BIRTHDAY_RULE = re.compile(
    r"\b(?:(?P<my>[Mm]y)|(?:[Mm]y\s+)?(?P<rel>" + RELATIONS + r"|" + NAME_TOKEN + r")'s)\s+birthday\s+is\b", _I
)
MY_THING_IS = re.compile(
    r"^(?:[Mm]y|[Oo]ur)\s+(?P<k>[a-z][\w-]*(?:\s+[a-z][\w-]*){0,4}?)\s+(?:is|are)\s+(?!(?:on|at|in|for|to|from|so|"
    r"very|really|too|being|going|getting|coming|not|kind|such|the best|amazing|awesome|great|ok|okay|fine|good|"
    r"bad|terrible|killing|driving|a mess|broken|gone|over|done)\b)(?P<v>[^;!?]{1,60}?)\s*[.!]?$"
)
MY_THING_BLOCKLIST = frozenset(
    "point question guess problem issue bad pleasure day turn heart life mind head fault plan hope dream "
    "concern worry fear thought feeling opinion favorite favourite fav fave all-time absolute goal go-to preferred "
    "legs leg head back feet foot body eyes knee knees stomach arm arms hands neck brain heart".split()
)
# "My <key> is <one word>" is only a fact for keys whose value is naturally one word ("My major is biology");
# otherwise one word is usually a state ("My legs are dead").
MY_THING_SINGLE_WORD_KEYS = frozenset(
    "major minor job profession occupation email username handle nickname religion nationality zodiac sign "
    "timezone title role pronouns language hometown surname".split()
)

# Organisation / document facts: "<Subject> <verb> <rest>".
ORG_FACT = re.compile(
    r"^(?P<subj>(?:(?:The|Our|All|Each|Every|Its|Their|Most|Any|New|Your)\s+)?(?:[A-Za-z$][\w&'$.-]*\s+){0,5}?)"
    r"(?P<verb>is|are|was\s+founded|were\s+founded|was\s+established|(?:was|were)\s+(?:[a-z]+ed|built|made|sold|bought|"
    r"rebuilt|taken\s+over)|has|have|can|cannot|can't|must|may|should|"
    r"does\s+not|do\s+not|offers?|provides?|includes?|costs?|requires?|supports?|covers?|allows?|employs?|operates?|"
    r"serves?|sells?|lasts?|takes?|runs?|opens?|closes?|accepts?|ships?|charges?|gives?|receives?|gets?|earns?|pays?|"
    r"contains?|uses?|recommends?|specializes?|manufactures?|owns?|hosts?|holds?|produces?|builds?|develops?|makes?|"
    r"leads?|manages?|oversees?|works?|lives?|belongs?|consists?|comes?|weighs?|measures?|reaches?|processes|was|were)\b"
    r"\s+(?P<rest>.{3,})$"
)
ORG_SUBJECT_STOP = frozenset(
    "it this that there here you your he she they i these those what which who how please click for in to if "
    "when note see thank thanks best kind we let make remember try go check sorry as once after before while".split()
)
META_WORDS = re.compile(
    r"\b(?:guide|document|article|section|page|link|links|below|above|following|email|message|tutorial|chapter)\b",
    _I,
)
WE_BUSINESS_VERBS = re.compile(
    r"^(?:We|Our\s+\w+(?:\s+\w+)?)\s+(?:offer|provide|ship|accept|close|open|charge|require|support|deliver|serve|"
    r"sell|operate|guarantee|refund|match|cover|include)\b",
    _I,
)
INFORMATIVE = re.compile(
    r"\d|\$|%|€|£|\b(?:open|closed|free|required|mandatory|prohibited|allowed|forbidden|available|unavailable|"
    r"included|excluded|eligible|refundable|non-refundable|not\s+permitted|permitted)\b",
    _I,
)
PROPER_TOKEN = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][a-zA-Z&'-]+\b")

# ------------------------------------------------------------------------------------------------- preferences

# Auxiliaries and negations right after the subject ("I'd rather", "she can't stand"). The "\s+" of a spelled-out
# auxiliary is dropped again in PREF_RULES: the subject pattern has already taken the space.
_WOULD = r"(?:'d|\s+would)"
_HAVE_PERFECT = r"(?:'ve|\s+have)"
_AM = r"(?:'m|\s+am)"
_AM_IS = r"(?:'m|\s+am|'s|\s+is)"
_AM_IS_ARE = r"(?:'m|\s+am|'s|\s+is|'re|\s+are)"
_CANT = r"(?:can't|cannot|can\s+not)"
_DONT = r"(?:don't|do\s+not|doesn't|does\s+not)"
_PREF_VERBS: tuple[tuple[str, str, float], ...] = (
    # (regex after the subject, polarity, strength)
    (r"(?:absolutely\s+|really\s+|just\s+|totally\s+)?(?:love|loves|adore|adores)\b", "positive", 0.9),
    (_CANT + r"\s+get\s+enough\s+of\b", "positive", 0.9),
    (
        r"(?:really\s+|absolutely\s+|totally\s+)?(?:hate|hates|detest|detests|loathe|loathes|despise|despises)\b",
        "negative",
        0.9,
    ),
    (_CANT + r"\s+(?:stand|stomach|bear|handle|deal\s+with|tolerate)\b", "negative", 0.9),
    (r"(?:prefer|prefers)\b", "positive", 0.8),
    (_WOULD + r"\s+(?:much\s+)?(?:rather|prefer)\b", "positive", 0.8),
    (r"(?:really\s+)?(?:like|likes|enjoy|enjoys|dig|digs)\b", "positive", 0.7),
    (
        _DONT + r"\s+(?:really\s+|particularly\s+)?(?:like|enjoy|care\s+for|eat|drink|do|want|use|watch|listen\s+to)\b",
        "negative",
        0.75,
    ),
    (_CANT + r"\s+(?:eat|drink|have|do)\b", "negative", 0.8),
    (r"(?:always|usually|typically|normally|generally|tend\s+to)\b", "positive", 0.75),
    (r"never\b", "negative", 0.8),
    (r"(?:avoid|avoids|try\s+to\s+avoid|stay\s+away\s+from)\b", "negative", 0.75),
    (_WOULD + r"\s+(?:really\s+)?(?:like|love)\b", "positive", 0.65),
    (r"(?:want|wants|wish|'m\s+looking\s+for|am\s+looking\s+for|'m\s+hoping\s+for)\b", "positive", 0.6),
    (_HAVE_PERFECT + r"\s+(?:always|long)\s+wanted\s+to\b", "positive", 0.7),
    (
        _HAVE_PERFECT
        + r"\s+never\s+(?:really\s+)?(?:liked|enjoyed|cared\s+for|been\s+(?:a\s+)?fan\s+of|been\s+into)\b",
        "negative",
        0.75,
    ),
    (_HAVE_PERFECT + r"\s+always\s+(?:loved|liked|enjoyed|been\s+into)\b", "positive", 0.8),
    (_HAVE_PERFECT + r"\s+always\s+(?:hated|disliked)\b", "negative", 0.85),
    (_AM_IS_ARE + r"\s+(?:a\s+)?(?:big|huge|massive|real)\s+fan\s+of\b", "positive", 0.85),
    (_AM_IS + r"\s+(?:a\s+)?fan\s+of\b", "positive", 0.75),
    (_AM_IS + r"\s+not\s+(?:a\s+|really\s+a\s+|much\s+of\s+a\s+)?(?:big\s+|huge\s+)?fan\s+of\b", "negative", 0.75),
    (
        _AM_IS_ARE + r"\s+(?:really\s+|so\s+|super\s+|very\s+)?"
        r"(?:into|obsessed\s+with|passionate\s+about|fond\s+of|big\s+on|crazy\s+about)\b",
        "positive",
        0.8,
    ),
    (
        _AM_IS + r"\s+not\s+(?:really\s+|very\s+|that\s+|too\s+)?(?:into|big\s+on|fond\s+of|keen\s+on)\b",
        "negative",
        0.7,
    ),
    (_AM + r"\s+not\s+(?:a|much\s+of\s+a|really\s+a)\s+(?=[\w-]+\s+person\b)", "negative", 0.75),
    (
        _AM + r"\s+(?:a|more\s+of\s+a|such\s+a|totally\s+a)\s+(?:big\s+|huge\s+|real\s+)?(?=[\w-]+\s+person\b)",
        "positive",
        0.75,
    ),
)
PREF_SUBJECT = (
    r"(?:\bI|\b[Ww]e|\b(?:[Mm]y|[Oo]ur|[Tt]he)\s+(?:(?:little|older|younger)\s+)?(?:" + RELATIONS + r")|(?P<pname>"
    r"\b(?!(?:The|My|Our|This|That|It|He|She|They|We|You|Your|There|Here|A|An|So|But|And|If|When|What|How|Who|Which|"
    r"Please|Everyone|Everybody|Nobody|Someone|People|Most|Some|All|Many)\b)"
    + NAME_TOKEN
    + r"(?:\s+"
    + NAME_TOKEN
    + r")?))"
)
PREF_SUBJECT_RX = re.compile(
    PREF_SUBJECT
    + r"(?:\s+(?:also|really|just|honestly|definitely|totally|still|generally|much|strongly))*(?:\s+|(?='))"
)
PREF_RULES: tuple[tuple[re.Pattern[str], str, float], ...] = tuple(
    (re.compile(rx), pol, s)
    for rx, pol, s in (
        (
            r.replace(r"\s+would", "would").replace(r"\s+am", "am").replace(r"\s+is", "is").replace(r"\s+are", "are"),
            p,
            st,
        )
        for r, p, st in _PREF_VERBS
    )
)
FAVORITE = re.compile(
    r"\b(?:[Mm]y|[Oo]ur|(?P<holder>User|Customer|Client)'s)\s+(?:absolute\s+|all-time\s+|current\s+|new\s+)?"
    r"(?:fav(?:ou?rite)?|fave|go-to|preferred)\s+"
    r"(?P<cat>[\w -]{2,30}?)"
    r"\s+(?:is|are|has\s+to\s+be|would\s+be)\s+(?P<obj>[^,;!?]{1,60})|(?P<obj2>[^,;!?]{1,60}?)\s+(?:is|are)\s+"
    r"(?:my|our)\s+(?:absolute\s+|all-time\s+)?(?:fav(?:ou?rite)?|fave)\b"
)
BEST_FOR_ME = re.compile(r"\b(?:works?|suits?|is|are)\s+(?:best|better)\s+for\s+me\b", _I)
REQUEST = re.compile(
    r"^(?:(?:please|pls|kindly)\s+(?P<v1>(?:always\s+|never\s+|only\s+|don't\s+|do\s+not\s+)?(?:use|keep|make|call|"
    r"write|respond|reply|answer|format|send|avoid|stop|include|remember|address|refer|speak|talk|be|contact|"
    r"email|text|give|show|list|explain|switch|skip|add)\b.*)|(?P<v2>(?:always|never|don't|do\s+not|stop|avoid)\s+"
    r"(?!worry|forget|mind|hesitate|be\s+sorry|apologize)(?:use|using|keep|make|call|write|respond|reply|answer|"
    r"format|send|schedule|book|include|add|give|show|put|suggest|recommend|remind|contact|email|text|ask|assume|"
    r"mention)\b.*))$",
    _I,
)
REQUEST_IMPERATIVE = re.compile(
    r"^(?P<v>(?:use|write|call|keep|respond|reply|answer|address|format|talk|speak|give|show|include|avoid|stick\s+to)"
    r"\b.*\b(?:please|from\s+now\s+on|going\s+forward|by\s+default|in\s+(?:all|every|everything)|always)\b.*)$",
    _I,
)
REQUEST_QUESTION = re.compile(
    r"^(?:can|could|would|will)\s+you\s+(?:please\s+)?(?P<v>.*?)\s*(?:from\s+now\s+on|going\s+forward|in\s+(?:the\s+)?"
    r"future|by\s+default|every\s+time|always)\s*(?:please)?\s*\??$",
    _I,
)
PREF_OBJECT_STOP = re.compile(
    r"^\s*(?:it\b(?!\s+when)|that\b|this\b|those\b|these\b|them\b|your\b|you\b|the\s+sound\s+of|the\s+idea|how\b|"
    r"what\s+you|to\s+(?:hear|know|see|chat|help|talk|learn\s+more|read)|hearing|seeing\s+(?:that|it|this)|"
    r"not\s+to\s+(?:say|answer|comment|discuss|share|talk)\b)",
    _I,
)

# ------------------------------------------------------------------------------------------------- emotions

EMO_MODIFIERS = (
    r"(?:so|really|very|super|extremely|incredibly|absolutely|totally|utterly|truly|beyond|quite|pretty|rather|"
    r"a\s+bit|a\s+little|kind\s+of|kinda|sort\s+of|somewhat|slightly|fairly|more\s+and\s+more|getting|"
    r"feeling|becoming|still|also|just|honestly|seriously|genuinely|definitely|completely|deeply|increasingly|"
    r"especially|particularly|a\s+lot|too|even)"
)
INTENSIFIERS = frozenset(
    "so really very super extremely incredibly absolutely totally utterly truly beyond deeply completely "
    "seriously genuinely".split()
)
DIMINISHERS = ("a bit", "a little", "kind of", "kinda", "sort of", "somewhat", "slightly", "fairly", "rather")
EMOTION_FEEL = re.compile(
    r"\b(?P<subj>I|[Ww]e)(?:'m|'re|\s+am|\s+are|\s+was|\s+were|\s+feel|\s+felt|\s+feeling|'ve\s+been|\s+have\s+been|"
    r"\s+got|\s+get|\s+became|\s+become|'ll\s+be|\s+will\s+be)(?P<mods>(?:,?\s+" + EMO_MODIFIERS + r")*)"
    r"(?P<neg>\s+not)?(?P<mods2>(?:,?\s+"
    + EMO_MODIFIERS
    + r")*)\s+(?P<emo>"
    + EMOTION_WORDS
    + r")\b(?P<rest>[^.;!?]*)",
)
EMOTION_MAKES = re.compile(
    r"\b(?:makes?|made|making|leaves?|left)\s+(?:me|us)\s+(?:feel\s+)?(?P<mods>(?:" + EMO_MODIFIERS + r",?\s+)*)"
    r"(?P<emo>" + EMOTION_WORDS + r")\b",
    _I,
)
EMOTION_PHRASAL = re.compile(
    r"\b(?P<phr>stress(?:es|ed|ing)?\s+(?:me|us)\s+out|freak(?:s|ed|ing)?\s+(?:me|us)\s+out|bum(?:s|med|ming)?\s+"
    r"(?:me|us)\s+out|tick(?:s|ed)?\s+(?:me|us)\s+off|piss(?:es|ed)?\s+(?:me|us)\s+off|driv(?:e|es|ing)\s+(?:me|us)\s+"
    r"(?:crazy|nuts|insane|up\s+the\s+wall)|can't\s+wait|cannot\s+wait|looking\s+forward\s+to|over\s+the\s+moon|"
    r"fed\s+up|on\s+cloud\s+nine|at\s+my\s+wits'?\s+end|heart\s+(?:is\s+)?broken|I\s+miss|we\s+miss)\b",
    _I,
)
PHRASAL_TYPES: tuple[tuple[str, str, float], ...] = (
    ("stress", "anxious", 0.7),
    ("freak", "anxious", 0.75),
    ("bum", "sad", 0.6),
    ("tick", "angry", 0.65),
    ("piss", "angry", 0.8),
    ("driv", "frustrated", 0.75),
    ("can", "excited", 0.8),
    ("looking", "excited", 0.65),
    ("over", "happy", 0.9),
    ("fed", "frustrated", 0.75),
    ("on", "happy", 0.9),
    ("at", "frustrated", 0.85),
    ("heart", "sad", 0.85),
    ("i", "sad", 0.55),
    ("we", "sad", 0.55),
)
EMOTION_SITUATION = re.compile(
    r"^(?:[\w' ]{1,40}?\s+)?(?:is|has\s+been|was|'s\s+been|'s|are|have\s+been|were)(?P<mods>(?:\s+"
    + EMO_MODIFIERS
    + r")*)\s+(?P<emo>stressful|frustrating|exhausting|overwhelming|depressing|heartbreaking|exciting|annoying|"
    r"infuriating|nerve-wracking|scary|terrifying|disappointing)\b",
    _I,
)
EMOTION_CHITCHAT = re.compile(
    r"\b(?:sorry|for\s+you|to\s+hear|to\s+see\s+(?:that|you)|glad\s+you|happy\s+to\s+help|that\s+you|you're|you\s+"
    r"(?:are|had|did|got|made|have))\b",
    _I,
)

# ------------------------------------------------------------------------------------------------- episodes

EPISODE_SUBJECT = re.compile(
    r"(?:^|[,;]\s*|\b(?:and|then|so|but|when|after|before|because|since)\s+)(?P<s>I|[Ww]e|(?:[Mm]y|[Oo]ur)\s+"
    r"(?:[\w-]+\s+)?(?:" + RELATIONS + "|" + PETS + r")(?:\s+" + NAME_TOKEN + r")?|(?:[Mm]y|[Oo]ur)\s+(?:[\w-]+\s+)?"
    r"[a-z][\w-]*|" + NAME_TOKEN + r"(?:\s+" + NAME_TOKEN + r")?)"
    r"(?P<aux>'ve|'d|\s+have|\s+has|\s+had)?(?P<adv>(?:\s+" + ADVERBS + r")*)\s+(?P<verb>[a-z][a-z'-]*)"
    r"(?:\s+(?P<verb2>[a-z][a-z'-]*))?"
)
STATIVE_PERFECT = frozenset("lived worked known had loved liked wanted owned hated stayed".split())
RESCHEDULED = re.compile(
    r"\b(?:moved|rescheduled|postponed|pushed|delayed|slipped|bumped|shifted)\s+(?:back\s+|out\s+)?(?:to|until|till)\s*$",
    _I,
)
DURATION = re.compile(
    r"\b(?:since|for\s+(?:the\s+past\s+|over\s+|about\s+|almost\s+)?(?:\d+|a|an|one|two|three|four|"
    r"five|six|seven|eight|nine|ten|many|several|a few)\s+(?:years?|months?|weeks?|days?|decades?)|for\s+"
    r"(?:most|all|much)\s+of\s+(?:my|his|her|their|our)\s+(?:life|lives|career|childhood)|for\s+(?:ages|"
    r"years|decades|a\s+while|a\s+long\s+time|so\s+long|ever))\b",
    _I,
)
DOC_EPISODE = re.compile(
    r"^(?:The|Our|We|[A-Z][\w&'-]*)(?:\s+[\w&'-]+){0,5}?\s+(?P<verb>[a-z]{2,}ed|"
    + alternation(" ".join(sorted(IRREGULAR_PAST - {"was", "were", "had", "did"})))
    + r")\b"
)
FUTURE_AUX = re.compile(r"\b(?:will|'ll|going\s+to|gonna|plan(?:s|ning)?\s+to|want\s+to|hope\s+to|about\s+to)\b", _I)
SIGNIFICANT = re.compile(
    r"\b(?:wedding|married|engaged|graduat\w*|born|died|passed\s+away|funeral|promot\w*|moved|hired|fired|laid\s+off|"
    r"quit|retired|accident|surgery|hospital|diagnos\w*|launched|pregnant|baby|divorce\w*|bought\s+a\s+house|"
    r"adopted|won|award|marathon|first)\b",
    _I,
)

# ------------------------------------------------------------------------------------------------- temporal

DEADLINE = re.compile(
    r"\b(?:due|deadline|expires?|expiry|expiration|ends?|until|till|valid\s+(?:until|through|thru)|no\s+later\s+than|"
    r"by|before|within|cut-?off)\b",
    _I,
)
DEADLINE_PREPS = frozenset(("by", "before", "until", "till", "within", "no later than"))

# ------------------------------------------------------------------------------------------------- entities

ENTITY_RUN = re.compile(r"\b[A-Z][\w&'-]*\.?(?:\s+(?:(?:of|de|la|van|von|der|&)\s+)?[A-Z][\w&'-]*\.?)*")
ACRONYM_OK = re.compile(r"^[A-Z]{2,6}$")
TITLE_ABBREVIATIONS = frozenset(("Dr.", "Mr.", "Mrs.", "Ms.", "St.", "Prof.", "Jr.", "Sr."))
