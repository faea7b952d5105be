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

import base64
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
    r"(?<!\bi )(?<!\bno )\b(?:swear|curse|cuss|insult|roast|diss|trash[- ]talk|abuse|mock|humiliate|belittle)"
    r"(?:s|ing)?\b(?! (?:intended|meant|taken)\b)",
    r"\b(?:rude|nasty|dirty|bad|swear|curse) (?:word|words|message|text|reply|note)\b|\bpalabrota|\bparolacc|"
    r"\bgros mots?\b|\bscheldwoord|\bpalavr[aã]o|\bschimpfwort",
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
    r"\bpretend (?:you(?:'re| are| were)|that you|youre)\b|\b(?:you|can you|could you) pretend to be\b",
    r"\b(?:act|behave|respond|reply|answer|speak|talk|write) (?:as|like) (?:a|an|my|if|the|though|you(?:'re| are))\b",
    r"\b(?:let'?s|lets|can you|will you|could you|you)\b.{0,20}\brole[- ]?play\w*|\blet'?s play a game\b|"
    r"\bplay (?:the role|a role|the part) (?:of|where|in which)?\b|\btalk like\b|\bbe my (?:girlfriend|boyfriend|"
    r"wife|husband|friend|therapist|lawyer)\b|\btu mal so,? als\b",
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
    r"\b(?:write|compose|make|create|give|tell|sing (?=me|us)|generate|draft|rap|come up with|craft|produce)\b"
    r" (?:me |us )?"
    r"(?:\w+ ){0,3}(?:poem|poems|haiku|song|songs|limerick|story|stories|joke|jokes|essay|rap|sonnet|verse|lyrics|"
    r"rhyme|ballad|ode|script|code|program|function|python|javascript|sql|html|regex|fan ?fiction|screenplay)\b",
    r"\b(?:write|draft|compose|do|fix|debug|solve)\b (?:me |us )?(?:\w+ ){0,3}(?:letter|cover letter|post|homework|"
    r"assignment|speech|cv|resume|bio|tweet|caption|macro|makro|sollicitatiebrief|bewerbung)\b|"
    r"\b(?:fix|debug) my (?:\w+ )?(?:code|javascript|python|script|excel)\b|\bblague\b|\bcan[cç][aã]o\b|"
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
    r"\b(?:cheaper|better|worse),? you or\b|\byou or \w+(?: \w+)?\?|\bcompare your (?:\w+ ){0,3}(?:with|to)\b|"
    r"\b(?:recommend|suggest)\b.{0,30}\b(?:other|another|apart from yours|besides you|better)\b.{0,20}\b(?:shop|shops|"
    r"store|stores|florist)|\bbuy from you and not\b|\b(?:moins chers?|plus chers?|mejores?|peores?|meglio|peggio|"
    r"melhores?|piores?|sois mejores|siete meglio)\b.{0,12}\b(?:que|di|do que)\b|"
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
    r"(?:\$|€|£)\s?\d+(?:[.,]\d+)?\b.{0,30}\b(?:deal|total)\b|\b\d+ (?:bucks|dollars|euros?)\b.{0,30}"
    r"\b(?:deal|yes)\b|\bdeal\?|\b(?:just|simply) (?:say|type|reply) yes\b|\bconfirm (?:that'?s|it'?s|its) a deal\b|"
    r"\bi'?ll pay (?:\$|€|£)?\s?\d+|\bdime que s[ií]\b|\btrato (?:cerrado|hecho)\b|\bme la dejas en\b|"
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


# Attempts to steer the assistant that the injection gate's exact phrases miss: typos and other languages,
# questions about its instructions, claimed authority, hidden or encoded payloads.
_INSTRUCTIONS = _rx(
    r"\b(?:ign\w{0,2}r\w*|ingore\w*|disregard\w*|forget|skip|bypass\w*|override|overrule|negeer\w*|vergiss|vergeet|"
    r"olvid\w*|esquec\w*|esqueca|esqueça|oubli\w*|ignora\w*|zignoruj)\b.{0,50}\b(?:instruc\w*|instrui\w*|instrukc\w*|"
    r"rules?|regel\w*|regeln|regl\w*|regras|regole|reglas|prompt|system\w*|guidelines?|previ\w*|vorherig\w*|"
    r"anweisung\w*|consign\w*|istruzion\w*|instructies|them|policy|polic\w*|everything|alles|tout|todo|tutto)\b",
    r"\b(?:new|updated|different|correct|real) (?:instructions?|rules|policy|prompt)\b|\b(?:your|ur) "
    r"(?:previous )?(?:instructions?|rules) (?:are|have|has)\b|\breset\b.{0,30}\b(?:context|rules|instructions)|"
    r"\b(?:clear|wipe) your (?:context|memory)|\bneue anweisung|\bnouvelles? (?:instructions?|consignes?)|"
    r"\bnueva instruccion|\bnuova istruzione|\bnieuwe instructie|\bnova instru",
)
_LEAK = _rx(
    r"\b(?:what|which|show|tell|share|list|print|paste|copy|repeat|give|send|encode|output|reveal|disclose|write|"
    r"display|recite)\b.{0,60}\b(?:your|ur|the shop'?s?|the owner'?s?|they gave you|you (?:were|got) given|"
    r"you were told|were you told|did [\w ]{0,20}tell (?:you|u))\b.{0,40}\b(?:instructions?|rules|prompt|"
    r"system (?:message|prompt)|context)",
    r"\b(?:were you told|did (?:they|the (?:owner|shop|boss)) tell (?:you|u)|instructions (?:were you|did you|"
    r"you (?:were|got)))"
    r"|\bcontext window\b|\bsystem (?:message|messages|prompt|note|instructions?)\b|\bhidden text\b|"
    r"\bsecret instructions\b|\b(?:first|last) (?:sentence|words?|line) of your\b|\bcomplete the sentence\b|"
    r"\bcontinue the (?:following )?text\b|\bnot allowed to (?:talk|say)\b|\b(?:rules|instructions) u have\b|"
    r"\bsysteemprompt|\bsysteeminstructies|\bsystemprompt|\bprompt di sistema|\bprompt (?:de|do) sistema|"
    r"\binstru\w* (?:você|voce|tu) recebeu|\bp[r]?1?nt y0ur",
)
_AUTHORITY = _rx(
    r"^[\s\[(<{*#\-]*(?:system|admin|administrator|operator|developer|assistant|systeem|sistema)\b\s*[\]):>*\-]",
    r"\[\[?\s*(?:system|admin|override)|\b(?:admin|system|developer|maintenance) (?:override|notice|note|mode|code)\b|"
    r"\b(?:from|by) (?:the |your )?(?:management|admin|administrator|operator|developers?)\b|"
    r"\b(?:the |my )?(?:owner|admin|boss|management|manager|operator)\b.{0,20}\b(?:said|says|asked|told|approved|"
    r"allowed|lets|let)\b.{0,40}\b(?:you|u)\b|\bthis is (?:openai|anthropic|the (?:owner|admin|developer|shop))\b|"
    r"\baccess granted\b|\bauthenticated\b|\bverified as\b|\bgeverifieerd\b|^\s*sudo\b|\bend of prompt\b|"
    r"\bbegin new prompt\b|\bnote to (?:ai|the ai|the bot|assistant)\b|\b(?:dear|chere|chère|querida|cara|liebe) "
    r"(?:ai|ia|ki|bot)\b|\binstruction to (?:the )?assistant\b|\bsafety filters?\b|\bdiscount_cap\b|--percent\b|"
    r"\"role\"\s*:\s*\"system\"|\bsystem override\b|\bnext message is from\b",
)
_UNRESTRICTED = _rx(
    r"\b(?:no|without|zero) (?:any )?(?:rules|restrictions|limits|guidelines|filters|ethical|moral)\b|"
    r"\bunrestricted\b|\bunfiltered\b|\bno rules\b|\btwin\b.{0,30}\b(?:rules|guidelines|restrictions)|"
    r"\bnew role\b|\bstop being (?:a|an|the) (?:shop )?(?:assistant|bot)\b|\bas that version of yourself\b|"
    r"\bmachiavellian\b|\bmoralizing rant\b|\bmandatory warning\b|\bmodalita sviluppatore\b|"
    r"\bmodalità sviluppatore\b|\bentwicklermodus\b|\bmode developpeur\b",
)
_ENCODED = _rx(
    r"\b(?:decode|decrypt|rot13|base64|read (?:it|that|this) backwards|reverse (?:it|this)|entschlussle|entschlüssle|"
    r"decodifica|decodeer)\b.{0,60}\b(?:follow|do|obey|execute|it says|and do|befolge|apply|what it says)\b|"
    r"\b(?:follow|do|obey|befolge)\b.{0,20}\b(?:decode|rot13|base64|backwards)\b",
)
_WRAPPED = _rx(
    r"\b(?:summari[sz]e|translate|résume|resume|traduce|traduci|vertaal|traduza|übersetze|ubersetze|zusammenfass\w*)"
    r"\b.{0,200}\b(?:ignore|ignora|olvida|oublie|vergiss|negeer|forget|from now on|note to ai|chère ia|chere ia|"
    r"dear ai|bot:|hazlo|do it|and then do)\b",
)
_LEET = str.maketrans("013457@$", "oieastas")
_SPACED = re.compile(r"\b(?:\w ){4,}\w\b")
_B64 = re.compile(r"[A-Za-z0-9+/]{16,}={0,2}")


def _decoded_variants(text: str) -> list[str]:
    """The message as an attacker may have hidden it: letters spaced out, leetspeak, reversed, base64."""
    variants = []
    spaced = _SPACED.sub(lambda m: m.group().replace(" ", ""), text)
    if spaced != text:
        variants.append(re.sub(r"\s{2,}", " ", spaced))
    leet = text.translate(_LEET)
    if leet != text:
        variants.append(leet)
    variants.append(text[::-1])
    for token in _B64.findall(text):
        try:
            decoded = base64.b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            continue
        if decoded.isprintable():
            variants.append(fold(decoded))
    return variants


# A greeting to print on a card is no dictation to the assistant.
_ON_THE_GIFT = re.compile(r"\bon (?:the|a|my) (?:gift ?card|card|note|label|ribbon|tag|pot|box|bouquet)\b")
_OWN_MESSAGE = re.compile(
    r"\b(?:my|meine?\w*|mijn|mon|ma|mes|mi|mis|mio|mia|minha|meu|the (?:previous|last|earlier|other))\b.{0,20}\b"
    r"(?:message|messages|msg|msgs|email|e-mail|mail|text|nachricht|bericht|mensaje|messaggio|mensagem|order|"
    r"bestellung|question|address|adresse)\b"
)


def _steering(text: str) -> bool:
    found = _INSTRUCTIONS.search(text)
    if found and _OWN_MESSAGE.search(text[found.start(): found.end() + 30]):  # "ignore my last message"
        found = None
    return bool(found or _UNRESTRICTED.search(text))


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
        ("say_this", "words to say or repeat as dictated",
         _SAY_THIS.search(text) and not _ON_THE_GIFT.search(text)),
        ("instructions", "an attempt to change or set aside the assistant's instructions",
         _steering(text) or _steering(plain) or _WRAPPED.search(text)),
        ("prompt_leak", "a question about the assistant's instructions", _LEAK.search(text) or _LEAK.search(plain)),
        ("authority", "a claimed system, owner or admin message", _AUTHORITY.search(text)),
        ("hidden_payload", "an encoded, spaced-out or reversed instruction",
         _ENCODED.search(text) or any(_steering(v) or _LEAK.search(v) for v in _decoded_variants(text))),
        ("opinion", "politics, religion or an endorsement",
         (_OPINION.search(plain or text) and _OPINION_ASK.search(text)) or re.search(r"\bendorse", text)),
    )
    return rules_result("manipulation", rules, "No request to manipulate the reply found in the inbound message.",
                        "The inbound message contains ")
