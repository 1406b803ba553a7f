"""The vocabulary of the rules extractor: word classes, emotion words, preference categories and closed word lists.

Kept apart from the patterns (``_patterns.py``) and the control flow (``rules.py``) so the vocabulary can grow
without touching either. Word classes are regex alternations (``RELATIONS`` matches "wife", "best friend", ...),
ready to be composed into patterns; the closed lists are sets the rules test words against.
"""

from __future__ import annotations

import re

_I = re.IGNORECASE


def alternation(words: str) -> str:
    """A regex alternation of space-separated words ("_" stands for a space), longest first."""
    items = sorted({w.replace("_", r"\s+") for w in words.split()}, key=len, reverse=True)
    return "(?:" + "|".join(items) + ")"


RELATIONS = alternation(
    "wife husband partner boyfriend girlfriend fiance fiancee spouse son daughter kid kids child children baby "
    "mom mum mother dad father parents parent sister brother sibling siblings twin grandma grandmother grandpa "
    "grandfather granddaughter grandson aunt uncle cousin niece nephew friend best_friend roommate neighbor "
    "neighbour boss manager coworker co-worker colleague teammate stepson stepdaughter stepmom stepdad in-laws "
    "mother-in-law father-in-law sister-in-law brother-in-law family"
)
PETS = alternation(
    "dog dogs puppy puppies cat cats kitten kittens rabbit bunny hamster guinea_pig parrot bird fish goldfish "
    "turtle tortoise snake lizard gecko horse pony chickens ferret golden_retriever retriever labrador lab "
    "poodle beagle terrier husky corgi dachshund bulldog shepherd german_shepherd chihuahua pug spaniel"
)
PROFESSIONS = alternation(
    "nurse teacher doctor physician surgeon dentist engineer developer programmer coder designer architect "
    "lawyer attorney paralegal accountant bookkeeper chef cook baker barista waiter waitress server bartender "
    "pharmacist firefighter police_officer cop officer paramedic emt electrician plumber carpenter mechanic "
    "pilot flight_attendant driver trucker farmer writer author novelist journalist reporter editor artist "
    "painter illustrator photographer musician singer songwriter actor actress dancer student undergrad "
    "researcher scientist professor lecturer tutor librarian consultant analyst manager director executive "
    "founder co-founder ceo cto cfo coo entrepreneur freelancer contractor therapist counselor counsellor "
    "psychologist psychiatrist social_worker veterinarian vet midwife caregiver nanny cashier clerk "
    "receptionist secretary assistant intern salesperson realtor real_estate_agent banker trader economist "
    "data_scientist product_manager marketer recruiter coach trainer personal_trainer soldier veteran "
    "homemaker stay-at-home_mom stay-at-home_dad retiree translator interpreter technician gardener "
    "landscaper janitor tailor hairdresser barber stylist optometrist chiropractor radiologist biologist "
    "chemist physicist mathematician statistician sysadmin administrator principal ux_designer "
    "web_developer software_engineer nurse_practitioner physiotherapist physical_therapist pediatrician "
    "surgeon dietitian nutritionist paralegal supervisor team_lead tech_lead engineering_manager"
)
IDENTITIES = alternation(
    "mom mother dad father parent single_mom single_dad single_parent grandmother grandfather twin introvert "
    "extrovert christian muslim jew buddhist hindu atheist catholic gamer runner cyclist climber swimmer hiker "
    "golfer surfer skier vegan vegetarian homeowner renter immigrant expat citizen native survivor widow "
    "widower member customer subscriber volunteer night_owl early_bird morning_person lefty left-hander "
    "first-time_homeowner first-time_mom first-time_dad transgender trans_woman trans_man"
)
DEMONYMS = alternation(
    "American Canadian Mexican British English Scottish Irish Welsh French German Italian Spanish Portuguese "
    "Dutch Belgian Swiss Austrian Swedish Norwegian Danish Finnish Polish Czech Greek Turkish Russian Ukrainian "
    "Chinese Japanese Korean Vietnamese Thai Filipino Indonesian Indian Pakistani Bangladeshi Nigerian Kenyan "
    "Ghanaian Egyptian Moroccan Brazilian Argentinian Argentine Chilean Colombian Peruvian Cuban Australian "
    "Kiwi Israeli Iranian Lebanese"
)
CONDITIONS = alternation(
    "diabetes type_1_diabetes type_2_diabetes asthma adhd autism anxiety depression celiac celiac_disease "
    "migraines migraine arthritis epilepsy high_blood_pressure hypertension cancer ptsd insomnia a_bad_back "
    "chronic_pain ibs crohn's lupus ms dyslexia sleep_apnea tinnitus eczema psoriasis long_covid"
)
BUSINESSES = alternation(
    "business shop store bakery restaurant company startup cafe coffee_shop blog podcast channel team "
    "department farm salon studio practice clinic agency firm bar food_truck nonprofit charity bookstore "
    "boutique gym daycare consultancy newsletter"
)
INSTRUMENTS_SPORTS = alternation(
    "guitar piano violin drums bass cello flute saxophone sax ukulele trumpet clarinet harp keyboard tennis "
    "soccer football basketball golf chess volleyball baseball softball hockey badminton squash pickleball "
    "rugby cricket video_games board_games poker table_tennis ping_pong lacrosse water_polo"
)

# Emotion words -> emotion type. Adjectives describing a situation ("stressful") count for the speaker.
EMOTIONS: dict[str, str] = {}
for _kind, _words in {
    "frustrated": "frustrated frustrating annoyed annoying irritated irritating fed_up exasperated",
    "angry": "angry mad furious livid pissed outraged infuriated infuriating enraged",
    "happy": "happy glad delighted pleased joyful cheerful content ecstatic overjoyed over_the_moon elated",
    "excited": "excited exciting thrilled pumped stoked psyched eager",
    "sad": "sad down depressed unhappy upset heartbroken devastated miserable gutted bummed depressing "
    "heartbreaking crushed",
    "anxious": "anxious nervous worried stressed stressful scared afraid frightened terrified overwhelmed "
    "overwhelming uneasy tense panicked panicking nerve-wracking scary freaked_out freaking_out",
    "grateful": "grateful thankful appreciative blessed",
    "confused": "confused puzzled baffled perplexed",
    "proud": "proud",
    "tired": "tired exhausted exhausting drained burned_out burnt_out worn_out",
    "lonely": "lonely isolated",
    "relieved": "relieved",
    "disappointed": "disappointed disappointing let_down",
    "embarrassed": "embarrassed ashamed humiliated",
    "bored": "bored",
    "surprised": "surprised shocked amazed astonished stunned",
    "hopeful": "hopeful optimistic",
    "calm": "calm relaxed peaceful",
    "jealous": "jealous envious",
    "guilty": "guilty",
    "motivated": "motivated inspired determined",
    "nostalgic": "nostalgic",
}.items():
    for _w in _words.split():
        EMOTIONS[_w.replace("_", " ")] = _kind
POSITIVE_EMOTIONS = frozenset({"happy", "excited", "grateful", "proud", "relieved", "hopeful", "calm", "motivated"})
EMOTION_WORDS = alternation(" ".join(w.replace(" ", "_") for w in EMOTIONS))

# Preference categories: the first category whose keyword occurs in the preference text wins.
CATEGORY_KEYWORDS: tuple[tuple[str, str], ...] = (
    (
        "communication",
        "email emails e-mail text texting call calls calling phone message messages reply replies respond answer "
        "answers tone formal informal concise brief short detailed bullet bullets emoji emojis language "
        "explanation explanations summary summaries jargon verbose",
    ),
    (
        "ui",
        "dark_mode light_mode theme themes font fonts layout interface notifications notification push "
        "metric imperial units celsius fahrenheit screen display menu sidebar keyboard shortcuts",
    ),
    (
        "drink",
        "coffee tea espresso latte cappuccino wine beer whiskey cocktail cocktails juice soda water smoothie "
        "matcha kombucha drink drinks drinking alcohol",
    ),
    (
        "food",
        "food foods pizza sushi pasta spicy vegetarian vegan meat chicken fish seafood dessert desserts "
        "chocolate cake cheese dairy gluten breakfast lunch dinner recipe recipes cooking cook restaurant "
        "restaurants thai indian italian mexican chinese japanese curry salad burger burgers fries tacos "
        "ramen noodles bread fruit vegetables snacks eat eating tiramisu ice_cream steak",
    ),
    (
        "travel",
        "travel traveling travelling flight flights fly flying seat seats aisle window hotel hotels trip "
        "trips vacation beach airline airport train road_trip cruise hostel airbnb",
    ),
    (
        "schedule",
        "morning mornings evening evenings night bed sleep wake early late meeting meetings schedule "
        "weekend weekends monday tuesday wednesday thursday friday saturday sunday am pm 10am 9am",
    ),
    (
        "music",
        "music song songs jazz rock pop country hip-hop rap classical band bands album albums concert "
        "concerts playlist singer guitar piano metal indie folk",
    ),
    (
        "sport",
        "sport sports football soccer basketball tennis golf hockey baseball running run hiking hike "
        "climbing bouldering yoga gym workout workouts cycling swimming marathon arsenal team ski skiing "
        "surfing",
    ),
    (
        "entertainment",
        "movie movies film films show shows series tv netflix book books novel novels reading read game "
        "games gaming podcast podcasts anime comedy horror thriller documentaries",
    ),
    ("shopping", "shopping brand brands clothes store stores online_shopping"),
)
CATEGORY_RX: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (cat, re.compile(r"\b" + alternation(words) + r"\b", _I)) for cat, words in CATEGORY_KEYWORDS
)

# Capitalised words that are not names when they start a clause or stand alone.
STOP_CAPS = frozenset(
    "the a an my our your his her their its this that these those it he she they we you i i'm i've i'd i'll "
    "there here so but and or also then if when what how why where who which just maybe yes no oh well please "
    "thanks thank hi hey hello sorry sure ok okay great good nice wow lol haha honestly actually anyway "
    "today tomorrow yesterday tonight last next every each all some any most many much more not never always "
    "usually sometimes often can could would should will did do does is are was were have has had be been "
    "let lets let's don't can't won't didn't isn't it's that's there's what's he's she's we're they're "
    "you're you've we've they've as at in on for from to with by of about after before since until "
    "mom dad mum user assistant agent customer congrats congratulations cheers dear best regards note "
    "see click remember make keep try check use go get ugh um uh hmm aww awesome cool".split()
)
MONTH_WEEKDAY = frozenset(
    "january february march april may june july august september october november december monday tuesday "
    "wednesday thursday friday saturday sunday".split()
)

# Past-tense forms that mark an episode (irregular verbs), and verbs that report thoughts or speech instead.
IRREGULAR_PAST = frozenset(
    "went got came saw made took met left ran bought gave found began broke won lost spent ate drank wrote "
    "sold paid brought sent flew drove rode swam sang fell kept built caught slept held threw wore chose "
    "became grew stood sat led hit quit fought dug hung shot struck tore woke overcame had did was were "
    "taught lent lit sped stole swept swung beat bit bled blew bound bred burnt dealt dove fed fled flung "
    "forgave froze hid knelt laid leapt meant rang rose sank shook shrank slid spun sprang stung stuck "
    "strode swore undertook upset wept withdrew wound won".split()
)
NOT_EPISODE_VERBS = frozenset(
    "thought knew meant said told asked wanted hoped wished liked loved hated felt guessed figured realized "
    "realised wondered heard forgot remembered supposed used needed seemed looked sounded mentioned noticed "
    "believed expected considered imagined understood preferred enjoyed appreciated agreed".split()
)
ED_ADJECTIVES = frozenset(
    "excited interested tired worried scared married based located called named supposed concerned bored "
    "stressed confused frustrated overwhelmed thrilled pleased relieved disappointed embarrassed annoyed "
    "amazed surprised scheduled planned expected allergic red bed limited detailed advanced experienced "
    "qualified skilled talented dedicated required included reserved automated engaged divorced retired "
    "obsessed interested committed determined exhausted shocked stunned impressed motivated inspired "
    "devastated heartbroken blessed relaxed prepared involved attached related used booked bummed pumped "
    "stoked psyched gutted crushed isolated tied".split()
)
PARTICIPLES = frozenset(
    "been done gone seen taken made got gotten begun run won lost found bought met left finished started "
    "visited moved traveled travelled tried read heard written eaten drunk flown driven ridden swum sung "
    "fallen kept built caught slept held thrown worn chosen become grown stood sat led hit quit fought had "
    "given brought sent spent sold paid broken taught".split()
)

# Adverbs that may sit between a subject and its verb ("I really love", "I've just finished").
ADVERBS = (
    r"(?:currently|now|still|also|actually|really|just|recently|finally|officially|originally|already|basically|"
    r"both|mostly|happily|newly|only|even|absolutely|totally|definitely|truly|genuinely|honestly|seriously|"
    r"literally|personally|usually|generally|typically|normally|often|sometimes|always|never|rarely|seldom|"
    r"kind\s+of|sort\s+of|pretty\s+much|a\s+little|so|very|too|ever|then|first|once|sorta|kinda|def|used\s+to|"
    r"full[- ]time|part[- ]time)"
)
ADV = r"(?:\s+" + ADVERBS + r")*"
