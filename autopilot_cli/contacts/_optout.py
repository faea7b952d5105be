"""Detect opt-out, opt-in and help requests in inbound message text.

Pure functions, no I/O. Two kinds of rule:

* Keyword rules fire only when the whole message is the keyword (any case,
  punctuation/emoji around it, NFKC + casefold + accents folded, so ``Arrêt``,
  ``ＳＴＯＰ`` and ``'stop'`` all count). The always-on set is the carrier
  default list: Twilio's STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE,
  OPTOUT / START, YES, UNSTOP / HELP, INFO (help.twilio.com/articles/223134027,
  which also lists ARRETE/ARRETT for Proxy) and AWS End User Messaging's ARRET,
  OPT-OUT, REMOVE, TD (docs.aws.amazon.com/sms-voice/latest/userguide/
  opt-out-list-keywords.html), plus UNSUB. ARRET* are tagged "fr" so a
  confirmation can be sent in French, though they always apply. Other languages add their own keywords only
  when configured; if two configured languages share a keyword (es/pt
  PARAR), the first listed names the rule. Unambiguous keywords ("strong": STOP, UNSUBSCRIBE, HELP,
  ABMELDEN, BAJA ...) may also carry politeness words ("stop please", "BAJA
  por favor"): Twilio ignores those, but they are clear requests. YES, END,
  CANCEL, QUIT, ALTO ... must stand alone ("yes please" is None).
* Phrase rules catch natural-language revocations, which the FCC's 2024 TCPA
  order (FCC 24-24, CG Docket 02-278, 47 CFR 64.1200(a)(10)) says must be
  honoured when made "by any reasonable means" ("please stop texting me",
  "take me off your list"). A phrase match is discarded when a negation sits
  just before it in the same clause ("don't stop messaging me", "please don't
  unsubscribe me") unless it is a threat or rhetorical ("if you don't stop
  texting me ...", "why won't you stop ..."); "if you stop ..." and "did you
  stop ..." are hypotheticals/questions and discarded too.

Taps are not typed text: the title of a WhatsApp button or list row or an
Instagram quick reply or postback (``SELECTION_TYPES``) is the business's
wording, chosen by the contact for what the business meant by it ("Cancel" an
appointment, "Yes" to a date). ``classify_message`` therefore applies no
keyword rule to it; a title that is itself a plain request ("Stop messaging
me", "Unsubscribe from promos") still opts out through the phrase rules.

Requests about a third party ("How do I unsubscribe my son from the
newsletter?", "I want to unsubscribe my daughter") are deliberately NOT an
opt-out of this contact: patterns require "me"/"I" as the object or subject.
Quoted replies and signatures ("STOP\\n\\nSent from my iPhone") must be
stripped by the channel parser first; this module sees only the new text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz.distance import OSA

from ..textnorm import SUPPORTED_LANGUAGES, fold, strip_accents
from ._revocation import CORRECTION, OTHER_LIST, about_something_else, revocation

Action = Literal["opt_out", "opt_in", "help", "possible_opt_out"]


@dataclass(frozen=True)
class ConsentSignal:
    action: Action
    rule: str  # "keyword:STOP", "keyword:ABMELDEN(de)", "phrase:stop messaging me"
    language: str  # language of the rule that matched



# Always-on carrier keywords: keyword -> (action, language). Spaces/hyphens are
# dropped before lookup, so "OPT-OUT", "opt out" and "STOP ALL" all match.
_DEFAULT_KEYWORDS: dict[str, tuple[Action, str]] = {
    **{k: ("opt_out", "en") for k in
       "STOP STOPALL UNSUBSCRIBE UNSUB CANCEL END QUIT REVOKE OPTOUT REMOVE TD".split()},
    "STAHP": ("opt_out", "en"),  # the internet's drawn-out "stop"
    **{k: ("opt_out", "fr") for k in "ARRET ARRETE ARRETT".split()},
    **{k: ("opt_in", "en") for k in "START UNSTOP YES RESUBSCRIBE SUBSCRIBE".split()},
    **{k: ("help", "en") for k in "HELP INFO".split()},
}
# Per-language keywords, only when that language is configured.
_LANG_KEYWORDS: dict[str, dict[Action, str]] = {
    "de": {"opt_out": "ABMELDEN STOPP AUSTRAGEN ABBESTELLEN ENDE", "opt_in": "ANMELDEN", "help": "HILFE"},
    "fr": {"opt_out": "DESINSCRIRE DESINSCRIPTION DESABONNER DESABONNEMENT ARRETER ARRETEZ",
           "opt_in": "COMMENCER DEMARRER REABONNER", "help": "AIDE"},
    "es": {"opt_out": "BAJA PARAR ALTO CANCELAR DETENER DESUSCRIBIR DESUSCRIBIRME CANCELARSUSCRIPCION",
           "opt_in": "ALTA EMPEZAR COMENZAR", "help": "AYUDA"},
    "it": {"opt_out": "ANNULLA BASTA CANCELLAMI DISISCRIVIMI DISISCRIVI DISISCRIVERMI", "opt_in": "INIZIA ISCRIVIMI",
           "help": "AIUTO"},
    "nl": {"opt_out": "AFMELDEN STOPPEN UITSCHRIJVEN", "opt_in": "AANMELDEN", "help": "HULP"},
    "pt": {"opt_out": "PARAR PARE SAIR CANCELAR DESCADASTRAR CANCELARINSCRICAO", "opt_in": "INICIAR", "help": "AJUDA"},
}
_STRONG = set(
    "STOP STOPALL UNSUBSCRIBE UNSUB OPTOUT REVOKE UNSTOP HELP ABMELDEN STOPP AUSTRAGEN ABBESTELLEN HILFE STAHP "
    "DESINSCRIRE DESINSCRIPTION DESABONNER DESABONNEMENT AIDE BAJA AYUDA CANCELLAMI DISISCRIVIMI DISISCRIVERMI AIUTO "
    "AFMELDEN UITSCHRIJVEN HULP "
    "DESCADASTRAR AJUDA DESUSCRIBIR DESUSCRIBIRME CANCELARSUSCRIPCION CANCELARINSCRICAO SAIR BASTA ARRET ARRETEZ "
    "PARE".split()
)
_LANG_INDEX = {lang: {w: kind for kind, words in table.items() for w in words.split()}
               for lang, table in _LANG_KEYWORDS.items()}
_OPT_OUT_KEYWORDS = frozenset(
    w for w in {*_DEFAULT_KEYWORDS, *(w for index in _LANG_INDEX.values() for w in index)}
    if _DEFAULT_KEYWORDS.get(w, ("", ""))[0] == "opt_out" or any(i.get(w) == "opt_out" for i in _LANG_INDEX.values())
)
_STRONG_OPT_OUT = _STRONG & _OPT_OUT_KEYWORDS
_KEYWORD_LANGUAGE = {w: lang for lang, index in reversed(list(_LANG_INDEX.items())) for w in index} | {
    w: lang for w, (_, lang) in _DEFAULT_KEYWORDS.items()}
_ALL_KEYWORDS = frozenset(_DEFAULT_KEYWORDS) | {w for index in _LANG_INDEX.values() for w in index}
# "stop" is also an everyday word ("can't stop laughing", "bus stop"): inside a sentence it only raises
# a doubt next to a word for messages.
_STOP_WORDS_OF_KEYWORDS = frozenset({"STOP", "STOPP"})
_REPEATED = re.compile(r"(\w{3,}?)\1+")
_ME = frozenset({"me", "moi", "mich", "mi"})
_HELD = re.compile(r"(\w)\1{2,}")
# Real words one letter away from STOP: never read as a typo of it.
_NOT_TYPOS = frozenset("SHOP STEP STOW SLOP SWOP ATOP STOMP STOOP STOPS SHOT SPOT SOUP STAR STAY TOPS POTS".split())
_GLUE = ("PLEASE", "PLS", "PLZ", "JUST", "NOW", "BITTE")
_EDGE_SPLIT = re.compile(r"[.!?\n]+|\s[-–—]+\s|\s[-–—]+$|^[-–—]+\s")
_HOW_TO_STOP = re.compile(
    r"\bhow (?:do|can|would|to) (?:i |we )?(?:\w+ ){0,2}?(?:unsub(?:scribe)?|opt ?-?out|stop (?:these|this|the|your|"
    r"getting|receiving)|get off)\b|\bwie (?:kann|konnte) ich (?:mich )?(?:\w+ )?(?:abmelden|austragen)|"
    r"\bcomo (?:me doy|puedo darme|hago para darme) de baja|\bcomo faco (?:pra|para) sair|"
    r"\bcomment (?:je peux |puis-je |faire pour )?(?:me )?(?:desabonner|desinscrire)|"
    r"\bcomo (?:dejo|hago para dejar) de recibir|\bcomment faire pour ne plus recevoir|\bcomo faco (?:pra|para) "
    r"parar de receber|\bhoe meld ik (?:me|mij) af|"
    r"\bcome (?:faccio a|posso) (?:disiscriver|cancellar)|\bhoe (?:kan ik|meld ik) (?:me |mij )?(?:afmelden|"
    r"uitschrijven)"
)
_ELISION = re.compile(r"\b([dlmnstj]|qu)['\u2019](?=\w)")
_HYPHENED_PRONOUN = re.compile(r"(?<=\w)-(moi|nous|toi|me|mi|nos)\b")
_STOP_SIGN_RUN = re.compile("[\U0001f6d1\u26d4\U0001f6ab]+\ufe0f?")
# Asking who writes, or why: the help text answers it (who we are, and that STOP stops the messages).
_WHO_IS_THIS = re.compile(
    r"^\W*(?:(?:hi|hello|hey|sorry),? )?(?:who (?:is|are) (?:this|you)|what is this (?:number|about)|"
    r"whose number is this|"
    r"how did you get my (?:number|e-?mail|address|details)|why am i (?:getting|receiving) (?:these|this|your)|"
    r"what happens if i (?:reply|send|text) stop|was ist das fur eine nummer|wer ist (?:das|da)|wer sind sie|"
    r"de quien es este numero|quien (?:es|eres|sois)|c ?est quel numero|qui (?:etes-vous|est-ce)|chi (?:siete|sei|e)|"
    r"di chi e questo numero|van wie is dit nummer|wie (?:is dit|bent u|ben je)|que numero e esse|quem (?:e|sao) "
    r"(?:voce|voces|vcs))\W*$"
)
# Asking to be messaged again (only matters for a contact who opted out): "subscribe me again", "add me back".
_OPT_IN = re.compile(
    r"\b(?:subscribe me again|resubscribe|resume (?:the )?(?:messages|texts|emails)|keep sending|sign me (?:back )?up|"
    r"add me back|opt ?-?in\b|(?:get|receive) your (?:messages|texts|emails|tips) again|start (?:sending|messaging) "
    r"(?:me )?again|wieder (?:nachrichten|anmelden|bekommen|erhalten)|(?:nachrichten|tipps|newsletter) wieder|"
    r"volver a recibir|suscribirme de nuevo|vuelvan a mandarme|me reabonner|recevoir a nouveau|recevoir de nouveau|"
    r"iscrivimi di nuovo|ricevere di nuovo|riattivate|weer (?:berichten|op de lijst)|voltar a receber|"
    r"de volta na lista|inscrever de novo)\b"
)
_FILLER = re.compile(
    r"\b(?:please|pls|plz|hey|hi|now|thanks|thank you|thx|ty|ok|okay|bitte|danke(?: schon)?|jetzt|sofort|"
    r"merci|svp|stp|sil (?:vous|te) plait|por favor|gracias|ya|per favore|grazie|subito|alsjeblieft|"
    r"alstublieft|aub|dank (?:je|u)(?:wel)?|obrigad[oa]|agora|nu|meteen|direct|immediately|immediatamente|"
    r"inmediatamente|imediatamente|tout de suite|de una vez|sofortig)\b"
)

# Phrase building blocks (over folded text: lower-case, no accents, no apostrophes).
_MSGS = (r"(?:messages?|msgs?|texts?|sms|emails?|e-mails?|mails?|notifications?|spam|marketing|"
         r"promotions?|promos?|newsletters?|calls?|communications?|whatsapps?|dms?|offers)")
_VERB = (r"(?:messag(?:e|ing)|text(?:ing)?|contact(?:ing)?|e-?mail(?:ing)?|call(?:ing)?|"
         r"writ(?:e|ing)(?: to)?|spam(?:ming)?|bother(?:ing)?|pester(?:ing)?|harass(?:ing)?|dm(?:ing)?)")
_LIST = (r"(?:(?:\w+ ){0,2}(?:list|lists|database|system|records?|contacts|newsletter|"
         r"mailing|distribution|thread|chat)|" + _MSGS + r")")
_END = r"(?=\s*(?:[^\w\s]|$))"  # clause ends here
_NOT_3RD = r"(?! (?:my|his|her|their|our) (?!(?:account|number|phone|e-?mail|address|profile|details)\b))"
_DE_LIST = r"(?:\w+ ){0,3}?(?:newsletter|verteiler|liste|mailingliste|nachrichten|sms|e-?mails?|werbung)\w* "
_NL_LIST = r"(?:van|voor|bij) (?:de |het |jullie |uw )?(?:nieuwsbrief|mailinglijst|lijst|berichten|sms)\w*"
_START = r"(?:^|(?<=[.!?;,:\n]) ?)"  # clause starts here

_PHRASES: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("stop messaging me", rf"\bstop {_VERB} me\b"),
        ("stop sending me messages", rf"\bstop sending(?: me)?(?: (?:any ?more |all )?(?:(?:the|these|those|your|this|"
                                     rf"ur|such) )?(?:\w+ )?{_MSGS}\b|(?: (?:these|this|them|those|it|stuff))?{_END})"),
        ("stop these messages", rf"\bstop (?:all )?(?:the|these|those|your|this|ur|all) (?:\w+ )?{_MSGS}\b"),
        ("take me off your list", rf"\b(?:take|get|remove|delete|drop) me (?:off|from|out of) (?:of )?"
                                  rf"(?:(?:your|the|this|that|ur|all|any|these|every) )?{_LIST}\b"),
        ("remove my number from your list",
         rf"\b(?:remove|delete|take) (?:my (?:phone )?(?:number|e-?mail(?: address)?|contact(?: details)?|"
         rf"details)|this number) (?:off|from) (?:(?:your|the|this|ur|all|any) )?{_LIST}\b"),
        ("do not contact me", rf"\b(?:dont|do not|never)(?: ever)? {_VERB} me"
                              rf"(?: (?:again|any ?more|ever again|ever|at all|further|please|thanks))*{_END}"),
        ("unsubscribe me", rf"\bunsub(?:scribe)? (?:me|my (?:account|number|phone|e-?mail|address))\b|{_START}"
                           rf"(?:(?:please|pls|plz|hey|hi) )*unsub(?:scribe)? from\b"),
        ("remove me", rf"{_START}(?:(?:please|pls|plz|just|can you|could you|would you) )*(?:remove|delete|take) me"
                      rf"(?: off)?(?: (?:please|pls|plz|now|thanks|asap))*{_END}"),
        ("opt me out", r"\bopt me out\b"),
        ("i want to unsubscribe",
         r"(?=i)(?<!\bdo )(?<!\bshould )(?<!\bmust )(?<!\bcan )(?<!\bif )(?<!\bwhen )"  # a question or a condition
         r"\b(?:i (?:really |just )?(?:want|would like|wish|need|would prefer|prefer)(?: to)?|id (?:like|prefer) to"
         r"|i wanna) (?:unsub(?:scribe)?|opt ?-?out|be (?:removed|unsubscribed|taken off)|"
         rf"stop (?:receiving|getting) (?:these |your |any )?(?:\w+ )?{_MSGS})\b{_NOT_3RD}"),
        ("i no longer want to receive",
         rf"\bi (?:no longer|dont|do not) (?:want|wish|need|like) (?:to (?:receive|get) (?:\w+ ){{0,3}}?{_MSGS}\b|"
         rf"to be (?:contacted|messaged|texted|e-?mailed|called)\b|"
         rf"(?:any ?more|any|more|your|these|those) (?:\w+ )?{_MSGS}\b)"),
        ("no more messages", rf"{_START}(?:(?:please|pls|ok|okay) )*no more (?:\w+ )?{_MSGS}\b"),
        ("leave me alone", r"\bleave me alone\b"),
        ("do not send me anything", r"\b(?:dont|do not|never) send me (?:anything|any\w*|stuff|things|more)\b.*"
                                    r"\b(?:any ?more|again|ever)\b"),
    ],
    "de": [
        ("keine nachrichten mehr", rf"{_START}(?:(?:bitte|ich (?:mochte|will)) )?keine (?:\w+ )?(?:nachrichten|"
                                   r"nachricht|sms|e-?mails?|mails|werbung|newsletter|mitteilungen|anrufe) mehr\b"),
        ("horen sie auf mir zu schreiben", r"\bh(?:or|ore|oren|ort) (?:sie |ihr )?(?:bitte )?auf,? (?:mir|mich) "
                                           r"(?:\w+ ){0,2}?zu (?:schreiben|kontaktieren|anrufen|nerven|texten|simsen)"),
        ("ich mochte mich abmelden",
         rf"\bich (?:mochte|will|wurde) (?:gerne? )?mich (?:{_DE_LIST})?(?:abmelden|austragen)\b"),
        ("melden sie mich ab", rf"\b(?:melden|tragen) sie mich (?:{_DE_LIST})?(?:ab|aus)\b"),
        ("lassen sie mich in ruhe", r"\blass(?:en sie|t)? mich (?:bitte )?(?:endlich )?in ruhe\b"),
        ("kontaktieren sie mich nicht mehr",
         r"\b(?:schreib|kontaktier|ruf)\w* (?:sie |ihr )?(?:mir|mich) (?:bitte )?(?:nicht|nie) mehr\b"),
        ("mich nicht mehr kontaktieren", r"\b(?:mir|mich) (?:bitte )?(?:nicht|nie) mehr (?:zu )?(?:kontaktieren|"
                                         r"schreiben|anrufen|anschreiben|nerven|belastigen)\b"),
    ],
    "fr": [
        ("arretez de menvoyer des messages", r"\barret(?:ez|e|er)? (?:de |d)(?:me |m)?(?:envoyer|ecrire|contacter|"
                                             r"appeler|harceler|spammer|deranger|texter)"),
        ("desinscrivez-moi", r"\b(?:desinscri(?:vez|s)|desabonne[rz]?)[\s-]*moi\b|\bretirez[\s-]*moi de\b"),
        ("laissez-moi tranquille", r"\blaisse(?:z)?[\s-]*moi (?:\w+ )?tranquille\b"),
        ("plus de messages", rf"{_START}(?:(?:svp|stp|merci) )?plus de (?:messages?|sms|mails?|e-?mails?|textos?|"
                             r"notifications?|pubs?|publicites?)\b"),
        ("ne me contactez plus", r"\bne (?:me |m)(?:contactez|ecrivez|envoyez|appelez)(?: \w+)? plus\b"),
        ("je ne veux plus recevoir", r"\bje (?:ne )?(?:veux|souhaite) plus (?:recevoir|etre contacte)"),
    ],
    "es": [
        ("no me envien mas mensajes",
         r"\bno (?:me )?(?:(?:envi|mand|contact|llam)(?:en|es|e)|escrib(?:an|as|a)) mas(?: (?:de )?(?:sus |tus )?"
         rf"(?:mensajes?|sms|correos?|e-?mails?|whatsapps?|publicidad|promociones|notificaciones)\b|{_END})"),
        ("dejenme en paz", r"\bdej(?:a|en|e)n?me en paz\b"),
        ("dame de baja", r"\b(?:dame|denme|deme|darme|den) de baja\b"),
        ("dejen de enviarme", r"\bdej(?:a|en|e) de (?:enviar|mandar|escribir|contactar|llamar|molestar)me\b"),
        ("no quiero recibir mas", r"\bno quiero (?:recibir )?mas (?:mensajes|sms|correos|e-?mails|publicidad)\b"),
    ],
    "it": [
        ("non scrivetemi piu", r"\bnon (?:mi )?(?:scrive|contatta|manda|invia)te(?:mi)? (?:\w+ )?piu\b"),
        ("smettete di scrivermi", r"\bsmett(?:ete|ila|etela|i|a) di (?:scriver|mandar|inviar|contattar|chiamar)mi\b"),
        ("lasciatemi in pace", r"\blascia(?:te)?mi in pace\b"),
        ("cancellatemi", r"\b(?:cancellatemi|disiscrivetemi|toglietemi dalla (?:vostra )?lista)\b"),
        ("non voglio piu ricevere", r"\bnon voglio piu (?:ricevere|essere contattat)"),
    ],
    "nl": [
        ("laat me met rust", r"\blaat (?:me|mij) (?:met rust|alleen)\b"),
        ("geen berichten meer", rf"{_START}(?:(?:alsjeblieft|graag|ik wil) )?geen (?:\w+ )?(?:berichten|sms(?:jes)?|"
                                r"e-?mails?|mails|nieuwsbrief|reclame) meer\b"),
        ("stop met berichten sturen", r"\bstop (?:met|nou met) (?:mij |me )?(?:berichten|sms|mailen|appen|sturen|te)"),
        ("schrijf mij uit", rf"\b(?:schrijf|meld) (?:mij|me) (?:uit|af){_END}"),
        ("neem geen contact meer op", r"\bneem (?:\w+ )?geen contact (?:\w+ ){0,3}?op\b"),
        ("ik wil me afmelden",
         rf"\bik wil (?:me |mij )?(?:{_NL_LIST} )?(?:afmelden|uitschrijven)(?:{_END}| {_NL_LIST})"),
    ],
    "pt": [
        ("nao me mandem mais", r"\bnao (?:me )?(?:mandem?|enviem?|escrevam?|contac?tem?|liguem?) mais\b(?! de\b)"),
        ("me deixe em paz", r"\b(?:me )?deix(?:e|em|a)(?:[\s-]*me)? em paz\b"),
        ("nao quero mais receber", r"\bnao quero (?:mais )?receber (?:mais )?(?:\w+ )?(?:mensagens|sms|e-?mails?|"
                                   r"promocoes|notificacoes)\b"),
        ("parem de me mandar", r"\bpar(?:e|em|a) de (?:me )?(?:mandar|enviar|escrever|contatar|ligar)"),
        ("me tire da lista", r"\b(?:tire|tirem|remova|removam)[\s-]*(?:me )?da (?:sua |vossa )?lista\b"),
        ("quero me descadastrar", r"\bquero (?:me )?(?:descadastrar|sair da lista)"),
    ],
}
_COMPILED = {lang: [(label, re.compile(rx)) for label, rx in rules] for lang, rules in _PHRASES.items()}
# One pass per language first: almost every message matches none of its phrases.
_ANY_PHRASE = {lang: re.compile("|".join(f"(?:{rx})" for _, rx in rules)) for lang, rules in _PHRASES.items()}

_NEGATORS = {
    "en": {"dont", "not", "never", "wont", "wouldnt", "doesnt", "didnt", "shouldnt"},
    "de": {"nicht", "nie", "niemals"}, "fr": {"pas", "jamais"}, "es": {"no", "nunca", "jamas"},
    "it": {"non", "mai"}, "nl": {"niet", "nooit"}, "pt": {"nao", "nunca", "jamais"},
}
_CLAUSE_SPLIT = re.compile(r"[.!?;,:\n]|\b(?:but|so|and|because|then|aber|mais|pero|ma|maar|mas)\b")


def _fold(text: str) -> str:
    """NFKC, casefold, strip accents and apostrophes, collapse whitespace."""
    text = strip_accents(fold(text))
    text = re.sub(r"[\u2019\u2018'`\u02bc\u00b4]", "", text)
    return re.sub(r"\s+", " ", text).strip()


def _languages(languages: Sequence[str]) -> list[str]:
    out: list[str] = []
    for raw in languages:
        code = str(raw).strip().lower().replace("_", "-").split("-")[0]
        if code not in SUPPORTED_LANGUAGES:
            raise ValueError(f"unsupported language {raw!r}; supported: {', '.join(SUPPORTED_LANGUAGES)}")
        if code not in out:
            out.append(code)
    return out


def _glued(word: str) -> str:
    """A keyword run together with itself or with politeness: STOPSTOP, PLEASESTOP, STOPPLS → STOP; and a
    held key: STOPPPP, BASTAAAA, SAIRR (a run of three or more letters, or a doubled last letter, cut back)."""
    if word not in _ALL_KEYWORDS:
        shortened = _HELD.sub(r"\1", word)
        if shortened in _ALL_KEYWORDS or shortened[:-1] in _ALL_KEYWORDS and shortened[-1] == shortened[-2]:
            word = shortened if shortened in _ALL_KEYWORDS else shortened[:-1]
    repeated = _REPEATED.fullmatch(word)
    if repeated:
        word = repeated.group(1)
    for glue in _GLUE:
        if word.startswith(glue) and len(word) > len(glue) + 3:
            word = word[len(glue):]
        if word.endswith(glue) and len(word) > len(glue) + 3:
            word = word[: -len(glue)]
    repeated = _REPEATED.fullmatch(word)
    return repeated.group(1) if repeated else word


def _misspelt(word: str, most: int = 2) -> str | None:
    """The strong opt-out keyword ``word`` is a typo of: two letters swapped in a short one (SOTP, STPO),
    one edit in a longer one (UNSUBSCIBE, UNSUSBCRIBE), two from ten letters."""
    if word in _STRONG_OPT_OUT or len(word) < 4:
        return None
    for keyword in _STRONG_OPT_OUT:
        if abs(len(keyword) - len(word)) > 2:
            continue
        if len(keyword) <= 5:
            if word not in _NOT_TYPOS and len(word) == len(keyword) and OSA.distance(word, keyword) == 1:
                return keyword
        elif OSA.distance(word, keyword) <= min(most, 2 if len(keyword) >= 10 else 1):
            return keyword
    return None


def _lookup(word: str, langs: list[str], *, any_language: bool) -> ConsentSignal | None:
    if word in _DEFAULT_KEYWORDS:
        action, lang = _DEFAULT_KEYWORDS[word]
        return ConsentSignal(action, f"keyword:{word}", lang)
    for lang in langs:
        if word in _LANG_INDEX.get(lang, {}):
            return ConsentSignal(_LANG_INDEX[lang][word], f"keyword:{word}({lang})", lang)
    if any_language:  # a message that is only a keyword counts in every supported language
        for lang in SUPPORTED_LANGUAGES:
            if word in _LANG_INDEX.get(lang, {}):
                return ConsentSignal(_LANG_INDEX[lang][word], f"keyword:{word}({lang})", lang)
    return None


def _keyword(folded: str, langs: list[str], *, tapped: bool = False) -> ConsentSignal | None:
    tokens = re.findall(r"[^\W_]+", folded)
    if not tokens or len(tokens) > 8:
        return None
    # (word, only if strong, the whole message, may be a typo: one word as typed, or letters spaced out)
    candidates: list[tuple[str, bool, bool, bool]] = []
    spaced = all(len(t) == 1 for t in tokens)
    if len(tokens) <= 2 or spaced:  # "opt out", "STOP ALL", "un-stop", "s t o p"
        candidates.append((_glued("".join(tokens).upper()), False, True, len(tokens) == 1 or spaced))
    rest = re.findall(r"[^\W_]+", _FILLER.sub(" ", " ".join(tokens)))
    if rest and len(set(rest)) == 1:  # "stop", "stop stop", "stop please"
        candidates.append((_glued(rest[0].upper()), len(rest) < len(tokens), len(rest) == len(tokens), True))
    elif not tapped and 1 < len(set(rest)) <= 3:  # "STOPP STOP", "🛑 basta": every word a keyword to stop
        said = {_glued(w.upper()) for w in rest}
        if said & _STRONG_OPT_OUT and said <= _OPT_OUT_KEYWORDS:
            keyword = sorted(said & _STRONG_OPT_OUT)[0]
            return ConsentSignal("opt_out", f"keyword:{keyword}", _KEYWORD_LANGUAGE.get(keyword, "en"))
    for word, need_strong, whole, typed in candidates:
        if tapped:  # a button's title: only an explicit stop or unsubscribe
            if word in _STRONG_OPT_OUT:
                return ConsentSignal("opt_out", f"keyword:{word}(button)", _KEYWORD_LANGUAGE.get(word, "en"))
            continue
        typo = None
        if word not in _ALL_KEYWORDS and (typed or whole):  # joined words ("opt ot"): one edit at most
            typo = _misspelt(word, 2 if typed else 1)
        if typo is not None:
            return ConsentSignal("opt_out", f"keyword:{typo}(misspelt {word})", _KEYWORD_LANGUAGE.get(typo, "en"))
        if need_strong and word not in _STRONG:
            continue
        found = _lookup(word, langs, any_language=whole or word in _STRONG)
        if found is not None:
            return found
    return None


def _edge_keyword(folded: str) -> ConsentSignal | None:
    """A strong opt-out keyword standing as the first or last sentence of a longer message: "STOP - I never
    signed up", "Who is this? Stop", "STOP. Also, where is my refund?" (the question is not answered)."""
    clauses = [c for c in _EDGE_SPLIT.split(folded) if re.search(r"[^\W_]", c)]
    if len(clauses) < 2:
        return None
    for clause in (clauses[0], clauses[-1]):
        words = re.findall(r"[^\W_]+", _FILLER.sub(" ", clause))
        if len(words) == 1 or (len(words) > 1 and len(set(words)) == 1):
            word = _glued(words[0].upper())
            keyword = word if word in _STRONG_OPT_OUT else _misspelt(word)
            if keyword is not None:
                return ConsentSignal("opt_out", f"keyword:{keyword}(sentence)", _KEYWORD_LANGUAGE.get(keyword, "en"))
    return None


def _possibly(folded: str) -> ConsentSignal | None:
    """An opt-out word where no rule is sure of it ("unsubscribe" inside a question, "stop" near "messages"):
    not an opt-out, but no automatic answer either — a person looks (``possible_opt_out``)."""
    for clause in _CLAUSE_SPLIT.split(folded):
        words = [w.upper() for w in re.findall(r"[^\W_]+", clause)]
        for i, word in enumerate(words):
            keyword = word if word in _STRONG_OPT_OUT else None
            if keyword in _STOP_WORDS_OF_KEYWORDS:
                near = " ".join(words[i + 1:i + 5]).lower()
                keyword = keyword if re.search(rf"\b{_MSGS}\b", near) else None
            if keyword is not None:
                return ConsentSignal("possible_opt_out", f"possible:{keyword}", _KEYWORD_LANGUAGE.get(keyword, "en"))
    return None


def _negated(folded: str, start: int, lang: str) -> bool:
    """A negation (or hypothetical "if"/"did") just before the match, in its clause."""
    clause = _CLAUSE_SPLIT.split(folded[:start])[-1]
    every = re.findall(r"[^\W_]+", clause)
    words = every[-5:]
    for i, word in enumerate(words):
        if word in _NEGATORS[lang]:  # "if you don't stop ...", "why won't you ...", "didn't I ask ..."
            return not (any(w in {"if", "unless", "why"} for w in words[:i]) or words[i + 1:i + 2] == ["i"])
    # "Does the link also remove me from WhatsApp?" asks how something works.
    return lang == "en" and (any(w in {"if", "did"} for w in words) or every[:1] in (["does"], ["did"]))


def classify_consent(text: str, languages: Sequence[str] = ("en",), *, keywords: bool = True) -> ConsentSignal | None:
    """Classify one inbound message; None when it carries no consent signal.

    English rules always apply; ``languages`` adds keywords and phrases of the
    other supported languages (first listed wins on a shared keyword).
    ``keywords=False``: phrase rules only. Raises ValueError for a language
    code outside SUPPORTED_LANGUAGES.
    """
    langs = _languages(languages)
    text = _STOP_SIGN_RUN.sub(" STOP ", text)  # 🛑 is the word STOP for every rule below
    folded = _fold(text)
    if not folded:
        return None
    lines = _fold_lines(text)
    found = _keyword(folded, langs, tapped=not keywords)
    if found:
        return found
    edge = _edge_keyword(lines) if keywords else None
    if edge:
        return _unless_corrected(edge, folded)
    if _HOW_TO_STOP.search(folded):  # asking how, not asking to: the help text says how (and offers STOP)
        return ConsentSignal("help", "phrase:how do i stop", "en")
    if _WHO_IS_THIS.search(folded):
        return ConsentSignal("help", "phrase:who is this", "en")
    again = _OPT_IN.search(folded) if keywords else None
    if again is not None and not _negated(folded, again.start(), "en"):
        return ConsentSignal("opt_in", "phrase:subscribe me again", "en")
    configured = ["en", *[code for code in langs if code != "en"]]
    found = (_phrase(folded, configured) or _concept(lines, configured, tapped=not keywords)
             or (_misspelt_with_object(folded) if keywords else None))
    if found is not None:
        # "darme de baja del taller" leaves a workshop; "unsubscribe me, and when does my order arrive?" is
        # about the contact, whatever else the message names — unless it names another list to leave.
        about_me = re.search(r"(?:^|[: ])(?:unsubscribe me|opt me out|remove me|take me off|"
                             r"stop messaging me|leave me alone)\b", found.rule)
        if OTHER_LIST.search(lines) if about_me else about_something_else(lines, found.language):
            return ConsentSignal("possible_opt_out", "possible:" + found.rule, found.language)
        return _unless_corrected(found, folded)
    if not keywords:
        return None
    # A request in a language the shop did not configure: likely a request to stop, but the rules of that
    # language are not switched on — a person decides rather than nobody.
    others = [code for code in SUPPORTED_LANGUAGES if code not in configured]
    other = _phrase(folded, others) or _concept(lines, others)
    if other is not None:
        return ConsentSignal("possible_opt_out", "possible:" + other.rule, other.language)
    return _possibly(folded)


def _misspelt_with_object(folded: str) -> ConsentSignal | None:
    """A typo'd opt-out keyword and its object: "unsubsribe me", "désabonez moi"."""
    rest = re.findall(r"[^\W_]+", _FILLER.sub(" ", folded))
    if len(rest) != 2 or rest[1] not in _ME:
        return None
    word = _glued(rest[0].upper())
    typo = _misspelt(word) if word not in _ALL_KEYWORDS else None
    if typo is None:
        return None
    return ConsentSignal("opt_out", f"keyword:{typo}(misspelt {word})", _KEYWORD_LANGUAGE.get(typo, "en"))


def _concept(lines: str, languages: list[str], *, tapped: bool = False) -> ConsentSignal | None:
    for lang in languages:
        found = revocation(lines, lang)
        if found is not None and not (tapped and "alone" in found):  # a "Quit" button is no request
            return ConsentSignal("opt_out", f"concept:{found}", lang)
    return None


def _unless_corrected(signal: ConsentSignal, folded: str) -> ConsentSignal:
    """A bare "stop" next to a correction ("Stop! I mean wait, I mixed up the sizes") is a "wait", more
    likely than an opt-out: a person decides."""
    bare = signal.rule.endswith("(sentence)") or "stop alone" in signal.rule
    if bare and CORRECTION.search(folded):
        return ConsentSignal("possible_opt_out", "possible:" + signal.rule, signal.language)
    return signal


def _fold_lines(text: str) -> str:
    """``_fold`` with line breaks kept (they end clauses)."""
    text = strip_accents(fold(text, keep_newlines=True))
    text = _ELISION.sub(r"\1 ", text)  # d'arrêter, l'atelier: the article is a word of its own
    text = _HYPHENED_PRONOUN.sub(r" \1", text)  # "rayez-moi", "désabonnez-moi": the pronoun is a word too
    return re.sub(r"[\u2019\u2018'`\u02bc\u00b4]", "", text).strip()


def _phrase(folded: str, languages: list[str]) -> ConsentSignal | None:
    for lang in languages:
        if not _ANY_PHRASE[lang].search(folded):
            continue
        for label, rx in _COMPILED[lang]:
            for match in rx.finditer(folded):
                if not _negated(folded, match.start(), lang):
                    suffix = "" if lang == "en" else f"({lang})"
                    return ConsentSignal("opt_out", f"phrase:{label}{suffix}", lang)
    return None


SELECTION_TYPES = frozenset({"interactive", "button", "quick_reply", "postback"})
"""Message types (set by the parsers) whose text is the title of something the contact tapped:
WhatsApp ``interactive`` (button and list replies, flows) and ``button`` (a template's quick
reply), Instagram ``quick_reply`` and ``postback``."""


def is_typed(message_type: str | None) -> bool:
    return message_type not in SELECTION_TYPES


def classify_message(text: str, message_type: str | None, languages: Sequence[str] = ("en",)) -> ConsentSignal | None:
    """``classify_consent`` for an inbound message: no keyword rule for a tapped title (module docstring)."""
    return classify_consent(text, languages, keywords=is_typed(message_type))
