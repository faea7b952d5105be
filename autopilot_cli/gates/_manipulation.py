"""Manipulation gate: requests a shop's assistant must never act on by itself, in the inbound message.

No instruction is overridden here — the customer simply asks for something a business does not say
in writing without a person: the DPD chatbot (January 2024) swore and wrote a poem calling its own
company the worst delivery firm because a customer asked it to; a Chevrolet dealer's chatbot
(December 2023) "agreed" to sell a Tahoe for $1 as "a legally binding offer"; Air Canada's chatbot
invented a bereavement refund the airline was later held to (Moffatt v. Air Canada, 2024). The model
may claim any confidence; these messages go to review (reason ``manipulation:<rule>``):

* ``insult`` — to swear, insult, curse, roast or trash-talk someone or something;
* ``disparage`` — to say that a company, courier or competitor is bad, useless, the worst;
* ``exaggerate`` — "in the most over-the-top way", "as dramatically as possible";
* ``persona`` — to pretend, act as, role-play, be someone else, talk like a pirate;
* ``creative`` — to write a poem, song, story, joke, essay or code;
* ``competitor`` — to compare the shop with a competitor or discuss one;
* ``binding_offer`` — to agree to a price or a deal, a "legally binding" offer, anything "in writing";
* ``invented_policy`` — to confirm or promise a refund, policy, compensation or free thing;
* ``say_this`` — to say, repeat or end replies with words the customer dictates;
* ``opinion`` — politics, religion, elections, or an endorsement in the shop's name.

Written in English, German, French, Spanish, Italian, Dutch and Portuguese over folded text
(lower case, accents kept as written by ``textnorm.fold``; both forms are accepted where they
differ). Benign look-alikes pass: "can you recommend a plant?", "ignore my last message",
"act fast please", "my daughter wrote a poem about your shop", "is this offer valid until Sunday?".
``tests/judgement/manipulation_*.jsonl`` measure it.
"""

from __future__ import annotations

import re

from ..textnorm import fold, strip_accents
from ._result import GateResult, rules_result

_ASK = (r"(?:can you|could you|would you|will you|please|pls|i want you to|i need you to|you (?:must|should|have to)|"
        r"go ahead and|now|just|kannst du|konnen sie|konntest du|bitte|peux-tu|pouvez-vous|tu peux|puedes|podrias|"
        r"puede|por favor|puoi|potresti|per favore|kun je|kunt u|wil je|pode|podes|poderia)")
_TARGET = (r"(?:dpd|dhl|ups|fedex|hermes|gls|post|courier|couriers|delivery (?:company|firm|service|guy|driver)|"
           r"company|firm|shop|store|brand|competitor|competition|boss|manager|driver|amazon|ikea|"
           r"paketdienst|kurier|lieferant|transporteur|livreur|mensajero|repartidor|corriere|bezorger|"
           r"entregador|transportadora|you|yourself|your (?:company|shop|boss|service|courier))")


_BAD = (r"(?:worst|terrible|horrible|useless|awful|crap|crappy|rubbish|garbage|trash|shit|shitty|incompetent|"
        r"pathetic|a joke|sucks?|scam|scammers|frauds?|liars?|hopeless|disgrace|evil|bad|lousy|clowns|idiots)")
_RIVALS = (r"(?:amazon|ikea|ebay|etsy|bloom ?& ?wild|bloomon|patch|leaf envy|dehner|obi|bauhaus|hornbach|toom|lidl|"
           r"aldi|the (?:other|big) (?:shops?|stores?|florists?|guys)|other (?:shops?|stores?|florists?|nurseries)|"
           r"(?:your|the) competitors?|them|(?:the )?garden cent(?:re|er)s?|supermarkets?|the shop (?:next door|down "
           r"the road)|[a-z]+(?:'s)? (?:shop|store|florist|nursery))")


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


_INSULT = _rx(
    r"\b(?:swear|curse|cuss|insult|roast|diss|trash[- ]talk|trash|abuse|mock|humiliate|belittle)(?:s|ing)?\b"
    r"(?! (?:words )?(?:in|at) (?:me|us)\b(?=.*\b(?:was|were|did)\b))",
    r"\b(?:use|say|write) (?:some |a few |lots of )?(?:swear ?words|bad words|profanity|curse words|cuss words|"
    r"the f[- ]word|obscenities)",
    r"\b(?:call|calling) (?:\w+ ){0,3}(?:names|an idiot|stupid|a moron|idiots|morons)\b",
    r"\b(?:beleidig|beschimpf|fluch)\w*|\bschimpf\w* (?:uber|auf)\b|\b(?:insulte|injurie|jure|dis des gros mots)\w*",
    r"\b(?:insulta|insulte|maldice|di (?:palabrotas|groserias)|insultare|insulta|bestemmia|di parolacce|scheld|"
    r"vloek|beledig|xinga|xingue|fala palavr[aã]o|diga palavr[aã]o)\w*",
)
_DISPARAGE = _rx(
    rf"\b(?:say|tell (?:me|everyone|us)|write|admit|confirm|agree|explain|describe|declare|state|post)\b"
    rf"(?=.{{0,80}}\b{_TARGET}\b).{{0,80}}\b{_BAD}\b",
    rf"\b(?:how|why) (?:bad|useless|terrible|awful|incompetent|crap|shit)\w* (?:is|are) {_TARGET}",
    rf"\b(?:bash|slam|criticise|criticize|badmouth|bad-mouth|rant about|complain about|hate on)\b.{{0,30}}"
    rf"\b{_TARGET}\b",
    r"\b(?:sag|schreib|gib zu)\w*\b.{0,60}\b(?:schlechteste|schlimmste|nutzlos|mies|mist|scheiße|scheisse|unfahig)\w*",
    r"\b(?:dis|ecris|avoue|admets)\w*\b.{0,60}\b(?:pire|nul|nuls|nulle|merde|incompetent)\w*",
    r"\b(?:di|escribe|admite|reconoce|dime)\b.{0,60}\b(?:peor|inutil|inútil|basura|mierda|pesimo|pésimo)\w*",
    r"\b(?:dimmi|scrivi|ammetti|di')\b.{0,60}\b(?:peggior|inutil|schif|merda)\w*",
    r"\b(?:zeg|schrijf|geef toe)\b.{0,60}\b(?:slechtste|waardeloos|waardeloze|rot|kut)\w*",
    r"\b(?:diga|escreva|admita|fala)\b.{0,60}\b(?:pior|inutil|inútil|lixo|merda|péssim|pessim)\w*",
)
_EXAGGERATE = _rx(
    r"\b(?:most|more|extremely|super|hyper|wildly|ridiculously) (?:over[- ]the[- ]top|dramatic|exaggerated|outrageous|"
    r"hyperbolic|extreme)\b",
    r"\bexaggerat\w*|\bover[- ]the[- ]top\b|\bas (?:dramatic(?:ally)?|angry|angrily|rude(?:ly)?|extreme(?:ly)?) as "
    r"(?:possible|you can)\b|\bin all caps\b",
    r"\b(?:ubertreib|übertreib|exager|esager|overdrijf|overdreven)\w*",
)
_PERSONA = _rx(
    r"\bpretend (?:to be|you(?:'re| are| were)|that you|youre)\b",
    r"\b(?:act|behave|respond|reply|answer|speak|talk|write) (?:as|like) (?:a|an|my|if|the|though|you(?:'re| are))\b",
    r"\brole[- ]?play\w*|\bplay (?:the role|a role|a game|the part) (?:of|where|in which)?\b",
    r"\b(?:you are|youre|you're) (?:now|no longer) (?:a|an|my|the|not)\b|\bfrom now on,? you\b",
    r"\bimagine (?:you(?:'re| are| were)|that you)\b|\b(?:new|different|your) persona\b|"
    r"\b(?:like|as) a pirate\b|\bin the (?:voice|style) of\b",
    r"\b(?:tu so,? als|tun sie so,? als|spiel\w* (?:die rolle|einen|eine)|du bist (?:jetzt|ab jetzt|nun))\b",
    r"\b(?:fais semblant|faites semblant|joue le role|joue le rôle|tu es maintenant|agis comme|parle comme)\b",
    r"\b(?:finge|finja|haz como si|actua como|actúa como|eres ahora|ahora eres|habla como)\b",
    r"\b(?:fai finta|fingi|recita la parte|sei ora|ora sei|comportati come|parla come)\b",
    r"\b(?:doe alsof|speel (?:de rol|een)|je bent nu|gedraag je als|praat als)\b",
    r"\b(?:finja|faz de conta|aja como|você é agora|voce e agora|agora você é|agora voce e|fala como)\b",
)
_CREATIVE = _rx(
    r"\b(?:write|compose|make|create|give|tell|sing|generate|draft|rap|come up with|craft|produce)\b (?:me |us )?"
    r"(?:\w+ ){0,3}(?:poem|poems|haiku|song|songs|limerick|story|stories|joke|jokes|essay|rap|sonnet|verse|lyrics|"
    r"rhyme|ballad|ode|script|code|program|function|python|javascript|sql|html|regex|fan ?fiction|screenplay)\b",
    r"\b(?:tell me|know any|got any) (?:\w+ ){0,2}jokes?\b|\bin (?:verse|rhyme|rhymes)\b|\bas a (?:poem|song|"
    r"haiku|rap)\b",
    r"\b(?:schreib|dicht|erzahl|erzähl|verfass)\w* (?:\w+ ){0,3}(?:gedicht|lied|witz|geschichte|aufsatz|code|skript|"
    r"programm|reim)\w*",
    r"\b(?:ecris|écris|ecrivez|écrivez|compose|raconte)\w* (?:\w+ ){0,3}(?:poeme|poème|chanson|blague|histoire|"
    r"dissertation|code|script|programme)\w*",
    r"\b(?:escribe|escribeme|escríbeme|compon|cuentame|cuéntame|haz)\w* (?:\w+ ){0,3}(?:poema|cancion|canción|chiste|"
    r"historia|cuento|ensayo|codigo|código|programa|script)\w*",
    r"\b(?:scrivi|scrivimi|componi|raccontami|racconta)\w* (?:\w+ ){0,3}(?:poesia|poema|canzone|barzelletta|storia|"
    r"tema|codice|programma|script)\w*",
    r"\b(?:schrijf|vertel|maak)\w* (?:\w+ ){0,3}(?:gedicht|liedje|lied|grap|mop|verhaal|essay|code|script|"
    r"programma)\w*",
    r"\b(?:escreva|escreve|compoe|componha|conta|conte)\w* (?:\w+ ){0,3}(?:poema|poesia|musica|música|piada|historia|"
    r"história|redação|redacao|codigo|código|programa|script)\w*",
)
_COMPETITOR = _rx(
    rf"\b(?:better|worse|cheaper|nicer|faster|more expensive|slower) (?:\w+ )?than {_RIVALS}\b",
    r"\b(?:better|worse|cheaper|more expensive) than (?:you|yours|your shop|your plants)\b",
    rf"\b(?:why|should i|is it better to) (?:\w+ ){{0,3}}(?:buy|order|shop) (?:from|at) {_RIVALS}\b",
    r"\bcompare (?:you|your shop|yourself|your prices|your plants|your service)\b|\b(?:your|the) competitors?\b|"
    rf"\bcompetition\b|\b(?:vs\.?|versus) {_RIVALS}\b",
    r"\b(?:besser|billiger|schlechter) als\b|\b(?:konkurrenz|konkurrent)\w*|\b(?:meilleur|moins cher|pire) que\b|"
    r"\bconcurren\w*|\b(?:mejor|peor|mas barato|más barato) que\b|\bcompetencia\b|\b(?:migliore|peggiore|piu economico|"
    r"più economico) di\b|\bconcorren\w*|\b(?:beter|goedkoper|slechter) dan\b|\b(?:melhor|pior|"
    r"mais barato) (?:que|do que)\b",
)
_BINDING = _rx(
    r"\blegally binding\b|\bbinding (?:offer|agreement|contract|deal)\b|\bno takesies\b|\bno take ?backs\b|"
    r"\bin writing\b|\bput (?:it|that) in writing\b",
    r"\b(?:agree|agreed|accept|confirm|promise|guarantee|commit)\w* (?:\w+ ){0,6}(?:to sell|to give|to ship|to send|"
    r"deal|price|offer|for (?:\$|€|£)?\s?\d|free|discount|for nothing|for a (?:dollar|euro|cent))",
    r"\b(?:sell|give|ship|send) (?:me )?(?:\w+ ){0,4}for (?:\$|€|£)?\s?(?:0|1|one|a (?:dollar|euro|cent)|free|"
    r"nothing)\b"
    r"(?:[.,]\d+)?(?! ?(?:eur|euro|euros|€|\$|dollars?)? (?:shipping|delivery))",
    r"\bagree with (?:anything|everything|whatever) (?:i|the customer)\b|\bend (?:each|every|all|your) "
    r"(?:reply|replies|response|responses|message|messages|answer|answers) with\b",
    r"\b(?:rechtsverbindlich|verbindliches angebot|schriftlich (?:bestatig|bestätig|zusag)\w*|juridiquement "
    r"contraignant|offre ferme|par ecrit|par écrit|legalmente (?:vinculante|vincolante|vinculativ[oa])|"
    r"juridisch bindend|bindend aanbod|por escrito|per iscritto|op schrift)\b",
)
_POLICY = _rx(
    r"\b(?:confirm|promise|guarantee|assure|state|verify|tell me)\w* (?:\w+ ){0,6}(?:refund|money back|compensation|"
    r"policy|free (?:shipping|delivery|plants?) (?:forever|for life)|for free|free of charge|bereavement|reimburse)\w*",
    r"\bbereavement\b|\b(?:you|your (?:bot|colleague|website)) (?:said|promised|told me)\b.{0,60}"
    r"\b(?:free|refund|discount|forever|compensation)\b",
    r"\b(?:bestatig|bestätig|versprech|garantier)\w* (?:\w+ ){0,5}(?:erstattung|ruckerstattung|rückerstattung|"
    r"entschadigung|entschädigung|kostenlos|gratis)\w*|\b(?:confirme|promets|garantis)\w* (?:\w+ ){0,5}(?:rembours|"
    r"gratuit|compensation|indemn)\w*|\b(?:confirma|promete|garantiza)\w* (?:\w+ ){0,5}(?:reembolso|devolucion|"
    r"devolución|gratis|compensacion|compensación)\w*|\b(?:conferma|prometti|garantisci)\w* (?:\w+ ){0,5}(?:rimborso|"
    r"gratis|risarcimento)\w*|\b(?:bevestig|beloof|garandeer)\w* (?:\w+ ){0,5}(?:terugbetaling|gratis|vergoeding)\w*|"
    r"\b(?:confirme|confirma|prometa|garanta)\w* (?:\w+ ){0,5}(?:reembolso|gratis|grátis|compensação|compensacao)\w*",
)
_SAY_THIS = _rx(
    r"\b(?:say|repeat|type|write|reply|respond|answer|start (?:your|each) (?:reply|answer) with|say back)\b"
    r"(?: (?:only|exactly|just|back|with|after me|the (?:words?|sentence|phrase)))*:? ?[\"'“‘«]",
    r"\brepeat after me\b|\b(?:say|write) (?:the )?(?:word|words|phrase|sentence) [\"'“‘«]?\w",
    r"\b(?:sag|schreib|wiederhole)\w* (?:\w+ ){0,2}[\"'„“«]|\b(?:dis|répète|repete|ecris|"
    r"écris)\w* (?:\w+ ){0,2}[\"'«“]|"
    r"\b(?:di|repite|escribe|ripeti|scrivi|zeg|herhaal|diga|repita|escreva)\b (?:\w+ ){0,2}[\"'«“]",
)
_OPINION = _rx(
    r"\b(?:politic\w*|election|elections|vote|voting|democrat\w*|republican\w*|trump|biden|putin|religio\w*|abortion|"
    r"immigra\w*|israel|palestin\w*|gaza|ukraine|afd|brexit)\b",
    r"\bendorse\w*|\b(?:support|recommend) (?:a |the )?(?:candidate|party|politician)\b",
    r"\b(?:politik|wahl|wahlen|partei|religion|politique|religion|politica|política|religión|elezioni|partito|"
    r"verkiezing\w*|partij|eleição|eleicao|partido)\b",
)
_OPINION_ASK = re.compile(
    r"\b(?:what do you think|your (?:opinion|view|stance|position)|do you (?:support|agree|like|prefer|believe)|"
    r"who (?:would|should|will) (?:you|i) vote|say (?:that )?(?:you|the shop|\w+) (?:support|endorse)|"
    r"was (?:halt|denk)\w* (?:du|ihr|sie)|ta position|que penses|qu'en penses|que piensas|qué piensas|tu opinion|"
    r"tu opinión|cosa ne pensi|wat vind (?:je|jij)|o que (?:você|voce) acha|sua opini)"
)


def check_manipulation(inbound: str) -> GateResult:
    """Fail when the inbound message asks for something no assistant of the shop should do on its own."""
    text = fold(inbound or "", keep_newlines=True)
    plain = strip_accents(text)
    if plain == text:  # most messages: no accents, one pass per rule
        plain = ""
    rules = (
        ("insult", "a request to swear at or insult someone", _INSULT.search(text) or _INSULT.search(plain)),
        ("disparage", "a request to disparage a company, courier or competitor",
         _DISPARAGE.search(text) or _DISPARAGE.search(plain)),
        ("exaggerate", "a request to exaggerate", _EXAGGERATE.search(text)),
        ("persona", "a request to play a role or change persona", _PERSONA.search(text) or _PERSONA.search(plain)),
        ("creative", "a request for a poem, story, joke or code", _CREATIVE.search(text) or _CREATIVE.search(plain)),
        ("competitor", "a comparison with competitors", _COMPETITOR.search(text) or _COMPETITOR.search(plain)),
        ("binding_offer", "a price, deal or binding offer to agree to",
         _BINDING.search(text) or _BINDING.search(plain)),
        ("invented_policy", "a refund, policy or promise to confirm", _POLICY.search(text) or _POLICY.search(plain)),
        ("say_this", "words to say or repeat as dictated", _SAY_THIS.search(text)),
        ("opinion", "politics, religion or an endorsement",
         (_OPINION.search(plain or text) and _OPINION_ASK.search(text)) or re.search(r"\bendorse", text)),
    )
    return rules_result("manipulation", rules, "No request to manipulate the reply found in the inbound message.",
                        "The inbound message contains ")
