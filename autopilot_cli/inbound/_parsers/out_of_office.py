"""Out-of-office replies that carry no RFC 3834 header, and the date their sender is back.

Many auto-replies (Lotus Notes' "AUTO: … is out of the office", Exchange
servers behind relays that drop ``Auto-Submitted``, ticket systems, phones)
announce themselves only in words: the subject ("Out of Office", "Automatic
reply", "Abwesenheitsnotiz", "Réponse automatique", "Respuesta automática",
"Resposta automática", "Risposta automatica", "Automatisch antwoord" …) or the
first lines ("I am out of the office until …", "Ich bin bis … nicht im Büro").

Two signals are needed to avoid answering customers who merely *mention*
being away: an auto-reply subject (not a human's "Re:"/"AW:" reply to one), or
a first-person, present-tense away statement at the very start of the text
("I was out of office last week, please resend" is a customer). The return
date is read from the first lines in the supported languages; a vague one
("back Monday", "next week") gives none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

# A human answering an auto-reply keeps its subject behind a reply prefix.
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|antw|r|rif|res|fwd?|wg|tr|rv|enc)\s*(\[\d+\])?\s*:", re.I)

_SUBJECT = re.compile(
    r"^\s*(?:auto\s*:|"  # Lotus Notes: "AUTO: Jane is out of the office"
    r"(?:out\s+of\s+(?:the\s+)?office|ooo\b|automatic\s+reply|auto[\s-]?reply|autoreply|auto[\s-]?response|"
    r"away\s*:|vacation\s+reply|on\s+(?:vacation|holiday|leave)\b|"
    r"abwesenheitsnotiz|automatische\s+antwort|abwesend\s*:|"
    r"r[ée]ponse\s+automatique|absence\s+du\s+bureau|message\s+d'absence|absent(?:e|\(e\))?\s*:|absence\b|"
    r"respuesta\s+autom[áa]tica|fuera\s+de\s+(?:la\s+)?oficina|ausente\s*:|"
    r"resposta\s+autom[áa]tica|aus[êe]ncia\s*:|fora\s+do\s+escrit[óo]rio|"
    r"risposta\s+automatica|fuori\s+(?:ufficio|sede)|assente\s*:|"
    r"automatisch\s+antwoord|afwezig(?:heidsbericht)?\b|niet\s+aanwezig\s*:))",
    re.I,
)

# First-person, present or future, at the start: "I am/I'm/I will be … out of (the) office / away / on leave".
_AWAY = (
    r"(?:out\s+of\s+(?:the\s+)?office|ooo\b|away\b|on\s+(?:annual\s+|parental\s+|sick\s+|maternity\s+)?"
    r"(?:leave|vacation|holiday)|travell?ing|not\s+in\s+the\s+office|no\s+longer\s+checking|"
    r"currently\s+away|out\s+of\s+the\s+country)"
)
_FIRST_LINES = re.compile(
    r"(?:\b(?:i\s+am|i'm|i’m|i\s+will\s+be|i'll\s+be)\s+(?:currently\s+|now\s+)?(?:\w+\s+){0,2}" + _AWAY +
    r"|\bour\s+office\s+is\s+closed\s+until"
    r"|\bthis\s+is\s+an\s+automatic\s+reply"
    r"|\bich\s+bin\s+(?:derzeit\s+|zurzeit\s+|momentan\s+)?(?:(?:[^.]|(?<=\d)\.){0,40}\s)?"
    r"(?:nicht\s+im\s+b[üu]ro|abwesend|im\s+urlaub|au[ßs]er\s+haus|nicht\s+erreichbar|wieder\s+im\s+b[üu]ro)"
    r"|\bich\s+befinde\s+mich\s+(?:(?:[^.]|(?<=\d)\.){0,40}\s)?in\s+(?:elternzeit|urlaub)"
    r"|\bje\s+(?:suis|serai)\s+(?:actuellement\s+)?(?:absente?|en\s+cong[ée]s?|en\s+vacances|en\s+d[ée]placement)"
    r"|\b(?:estoy|estar[ée]|me\s+encuentro)\s+(?:de\s+vacaciones|de\s+baja|fuera\s+de\s+(?:la\s+)?oficina|ausente)"
    r"|\b(?:estou|estarei)\s+(?:de\s+f[ée]rias|de\s+licen[çc]a|fora\s+do\s+escrit[óo]rio|ausente)"
    r"|\bsono\s+(?:in\s+ferie|fuori\s+(?:ufficio|sede)|assente|in\s+viaggio)"
    r"|\bik\s+ben\s+(?:momenteel\s+|tot\s+(?:[^.]|(?<=\d)\.){1,20}\s)?"
    r"(?:afwezig|met\s+vakantie|op\s+vakantie|niet\s+aanwezig|niet\s+op\s+kantoor))",
    re.I,
)
# A customer's own story about having been away is not an auto-reply.
_PAST = re.compile(r"\b(?:i\s+was|i've\s+been|ich\s+war|j'[ée]tais|estuve|estive|ero|ik\s+was)\b", re.I)

_MONTHS = {
    "january": 1, "jan": 1, "januar": 1, "janvier": 1, "enero": 1, "janeiro": 1, "gennaio": 1, "januari": 1,
    "february": 2, "feb": 2, "februar": 2, "février": 2, "fevrier": 2, "febrero": 2, "fevereiro": 2,
    "febbraio": 2, "februari": 2,
    "march": 3, "mar": 3, "märz": 3, "maerz": 3, "mars": 3, "marzo": 3, "março": 3, "marco": 3, "maart": 3,
    "april": 4, "apr": 4, "avril": 4, "abril": 4, "aprile": 4,
    "may": 5, "mai": 5, "mayo": 5, "maio": 5, "maggio": 5, "mei": 5,
    "june": 6, "jun": 6, "juni": 6, "juin": 6, "junio": 6, "junho": 6, "giugno": 6,
    "july": 7, "jul": 7, "juli": 7, "juillet": 7, "julio": 7, "julho": 7, "luglio": 7,
    "august": 8, "aug": 8, "août": 8, "aout": 8, "agosto": 8, "augustus": 8,
    "september": 9, "sep": 9, "sept": 9, "septembre": 9, "septiembre": 9, "setembro": 9, "settembre": 9,
    "october": 10, "oct": 10, "oktober": 10, "octobre": 10, "octubre": 10, "outubro": 10, "ottobre": 10,
    "november": 11, "nov": 11, "novembre": 11, "noviembre": 11, "novembro": 11,
    "december": 12, "dec": 12, "dezember": 12, "décembre": 12, "decembre": 12, "diciembre": 12,
    "dezembro": 12, "dicembre": 12,
}
_MONTH = "|".join(sorted((re.escape(m) for m in _MONTHS), key=len, reverse=True))
_WEEKDAY = (r"(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|montag|dienstag|mittwoch|donnerstag|freitag|samstag|"
            r"sonntag|lundi|mardi|mercredi|jeudi|vendredi|lunes|martes|miércoles|jueves|viernes|"
            r"segunda-feira|lunedì|maandag)")
# Words after which a date is the return (or the last day away).
_UNTIL = (r"(?:until|till|til|through|thru|returning(?:\s+on)?|return(?:ing)?\s+on|back\s+(?:in\s+the\s+office\s+)?on|"
          r"back\s+in\s+the\s+office\s+on|will\s+not\s+return\s+until|"
          r"bis(?:\s+zum|\s+einschlie[ßs]lich)?|ab(?:\s+dem)?|am|jusqu'au|jusqu’au|au|le|hasta\s+el|volver[ée]\s+el|el|"
          r"até(?:\s+ao)?|a|fino\s+al|il|tot(?:\s+en\s+met)?|vanaf|returning|regresso|retorno|to|al|"
          r"reopen(?:s|ing)?(?:\s+on)?|rientrer[òo]\s+in\s+ufficio\s+il|"
          r"back\s+on)")
_COMMON_WORD_CUES = frozenset({"am", "ab", "a", "au", "le", "el", "il", "al", "to"})
_ENGLISH_CUE = re.compile(r"^(?:until|till|til|through|thru|return|back|will|to\b|reopen)", re.I)
_NUMERIC = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b|\b(\d{1,2})([./-])(\d{1,2})(?:\5(\d{2,4}))?\b")
_WORDS = re.compile(
    rf"\b(?:{_WEEKDAY},?\s+(?:den\s+)?)?(?:(?:the\s+)?(\d{{1,2}})(?:st|nd|rd|th|\.|er)?"
    rf"\s+(?:of\s+|de\s+)?({_MONTH})\b\.?"
    rf"(?:\s+(?:de\s+)?(\d{{4}}))?|({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?)",
    re.I,
)


@dataclass(frozen=True)
class OutOfOffice:
    marker: str
    """What gave it away, for ``automated_reason`` and ``explain``."""
    away_until: date | None
    certain: bool
    """An auto-reply subject said so; False: only the first lines read like one (a person should look)."""


def _lead(text: str, limit: int = 600) -> str:
    return " ".join(text[:limit].split())


def detect_out_of_office(subject: str | None, text: str, received_at: datetime) -> OutOfOffice | None:
    """An out-of-office reply, or None. ``received_at`` anchors dates written without a year."""
    subject = (subject or "").strip()
    lead = _lead(text)
    first = _lead(text, 300)
    marker, certain = None, False
    if subject and not _REPLY_PREFIX.match(subject) and _SUBJECT.match(subject):
        marker, certain = f"out of office (subject: {subject[:60]})", True
        if _QUESTION.search(first):
            # An auto-reply asks us nothing; a customer whose subject reads like one ("Out of office
            # hours support", "OOO") and who asks a question is answered — after a person looked.
            marker, certain = f"{marker}, but the text asks a question", False
    else:
        found = _FIRST_LINES.search(first)
        # The away statement opens the message (after a greeting or a thanks at most): a customer
        # asks or tells us something first, or speaks of having been away.
        if found and found.start() < 160 and not _PAST.search(first[: found.start() + 5]) \
                and not _REQUEST.search(first[: found.start()]) and not _is_question_or_request(first):
            marker = f"out of office (text: {found.group(0)[:60]})"
    if marker is None:
        return None
    return OutOfOffice(marker=marker, away_until=return_date(lead, received_at), certain=certain)


_QUESTION = re.compile(r"[?¿]")
_REQUEST = re.compile(r"\b(?:please|pls|bitte|don't|do\s+not|can|could|would|s'il\s+vous\s+pla[iî]t|por\s+favor|"
                      r"per\s+favore|alstublieft)\b|\?", re.I)


def _is_question_or_request(text: str) -> bool:
    # Customers who say they will be away ask us for something; an auto-reply does not.
    return bool(re.search(r"\?|\b(?:can|could)\s+you\b|\bplease\s+(?:deliver|ship|send|hold|call)\b|"
                          r"\bk[öo]nnen\s+sie\b|\bpouvez-vous\b|\bpueden\b", text, re.I))


def return_date(text: str, received_at: datetime) -> date | None:
    """The first date after an "until"-like word within the first lines; None when none or vague."""
    anchor = received_at.date()
    for cue in re.finditer(rf"\b{_UNTIL}(?=\s)", text, re.I):
        window = text[cue.end(): cue.end() + 45]
        # A cue that is also a common word ("am", "a", "le", "to", "al") counts only right before the
        # date ("am 10.12.", "to 4 January"): English "I am away from 21 December" names no return.
        gap = 2 if cue.group(0).lower() in _COMMON_WORD_CUES else 12
        # 01/04/2027 after "until" is 4 January (US order); after "jusqu'au", "bis", "hasta" … 1 April.
        found = _first_date(window, anchor, month_first=bool(_ENGLISH_CUE.match(cue.group(0))), gap=gap)
        if found is not None:
            return found
    return None


def _first_date(window: str, anchor: date, *, month_first: bool, gap: int) -> date | None:
    words, numeric = _WORDS.search(window), _NUMERIC.search(window)
    best = min((m for m in (words, numeric) if m is not None), key=lambda m: m.start(), default=None)
    if best is None or best.start() > gap:
        return None
    try:
        if best is words:
            if best.group(1):
                day, month, year = int(best.group(1)), _MONTHS[best.group(2).lower()], best.group(3)
            else:
                day, month, year = int(best.group(5)), _MONTHS[best.group(4).lower()], best.group(6)
            return _with_year(day, month, int(year) if year else None, anchor)
        if best.group(1):
            return date(int(best.group(1)), int(best.group(2)), int(best.group(3)))
        first, second, year_text = int(best.group(4)), int(best.group(6)), best.group(7)
        if best.group(5) == "/" and first <= 12 < second:  # 12/18/2026: the US order is unambiguous
            day, month = second, first
        elif best.group(5) == "/" and first <= 12 and second <= 12 and month_first:
            day, month = second, first
        else:
            day, month = first, second
        year = int(year_text) if year_text else None
        if year is not None and year < 100:
            year += 2000
        return _with_year(day, month, year, anchor)
    except (ValueError, KeyError):
        return None


def _with_year(day: int, month: int, year: int | None, anchor: date) -> date:
    if year is not None:
        return date(year, month, day)
    candidate = date(anchor.year, month, day)
    # No year: a date already past when the message came means next year's.
    return candidate if candidate >= anchor else date(anchor.year + 1, month, day)
