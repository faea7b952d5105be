"""Natural-language opt-outs by concept, in the seven supported languages.

The keyword and phrase rules of ``_optout.py`` know fixed wordings; customers combine a handful of
ideas in endless ways. This module looks, clause by clause, for those ideas:

- **stop + messages**: a verb of stopping with something we send, or with "me" as its object
  ("could u stop sending me these", "hört auf, mir zu schreiben", "parem de me mandar");
  or a verb of stopping alone in its clause ("please stop", "seriously stop", "aufhören bitte");
- **remove + me**: a verb of removing, deleting or forgetting with the contact's own details or
  a list as its object ("take my name off your list", "forget my number", "sáquenme de la lista",
  "Verwijder mijn nummer uit jullie bestand");
- **withdrawn consent** ("I withdraw my consent", "ich widerrufe meine Einwilligung");
- **no more messages** ("no more msgs pls", "keine Nachrichten mehr", "plus de msg", "niente più
  messaggi", "geen berichten meer", "chega de mensagens", "I'd rather not get any more messages");
- **opting out in the first person** ("I opt out", "count me out", "me doy de baja", "je me
  désabonne", "mi disiscrivo").

A negation just before the idea ("don't stop the tips", "nie aufhören") or a question about how
it works ("how do I stop these messages?") cancels it. The lexicons are written from how people
write, not from a list of test sentences; ``tests/judgement/optout_*.jsonl`` measure them.
"""

from __future__ import annotations

import re

# Over folded text: lower case, accents and apostrophes removed, spaces collapsed.
_W = r"(?:[\w-]+ ){0,4}?"  # a few words in between, lazily

MSGS = {
    "en": r"(?:messages?|msgs?|msg|texts?|sms|emails?|e-?mails?|mails?|notifications?|spam|marketing|promos?|"
          r"promotions?|newsletters?|ads|adverts?|offers?|updates|whatsapps?|dms?|crap|junk|bs)",
    "de": r"(?:nachrichten|nachricht|sms|e-?mails?|mails?|werbung|newsletter|mitteilungen|spam|msgs?|infos?|"
          r"angebote|benachrichtigungen)",
    "fr": r"(?:messages?|msgs?|sms|textos?|e-?mails?|mails?|courriels?|pubs?|publicites?|newsletters?|"
          r"notifications?|spam|offres)",
    "es": r"(?:mensajes?|msjs?|msgs?|sms|correos?|e-?mails?|mails?|publicidad|promociones|notificaciones|spam|"
          r"whatsapps?|ofertas|newsletter|boletin)",
    "it": r"(?:messaggi|messaggio|sms|e-?mail|mail|email|pubblicita|promozioni|notifiche|spam|newsletter|msg|"
          r"offerte|comunicazioni)",
    "nl": r"(?:berichten|bericht|sms(?:jes)?|e-?mails?|mails?|reclame|nieuwsbrief|nieuwsbrieven|spam|appjes|"
          r"kutberichten|meldingen|aanbiedingen)",
    "pt": r"(?:mensagens|mensagem|msgs?|sms|e-?mails?|emails?|promoc(?:ao|oes)|notificacoes|spam|publicidade|"
          r"newsletter|propagandas?|ofertas)",
}
LISTS = {
    "en": r"(?:list|lists|database|system|records?|contacts|newsletter|mailing|distribution|register|files?)",
    "de": r"(?:liste|verteiler|newsletter-verteiler|datenbank|kartei|system|kontakte|mailingliste|newsletter)",
    "fr": r"(?:liste|base de donnees|fichier|newsletter|repertoire|contacts)",
    "es": r"(?:lista|base de datos|listado|registro|contactos|newsletter|boletin)",
    "it": r"(?:lista|database|elenco|archivio|rubrica|contatti|newsletter|mailing list)",
    "nl": r"(?:lijst|bestand|database|nieuwsbrief|mailinglijst|systeem|contacten)",
    "pt": r"(?:lista|cadastro|base de dados|banco de dados|contatos|newsletter)",
}
MINE = {
    "en": r"(?:me|my (?:[\w-]+ )?(?:number|phone|name|email|e-mail|address|details|data|info|information|contact|"
          r"contacts)|this number|everything you have on me)",
    "de": r"(?:mich|mir|meine[rn]? (?:[\w-]+ )?(?:nummer|handynummer|telefonnummer|e-?mail(?:-adresse)?|adresse|daten|"
          r"kontakt(?:daten)?|namen?))",
    "fr": r"(?:moi|me|m|mon (?:[\w-]+ )?(?:numero|nom|adresse|mail|e-?mail|contact)|mes (?:[\w-]+ )?(?:donnees|"
      r"coordonnees|"
          r"informations))",
    "es": r"(?:me|mi (?:[\w-]+ )?(?:numero|nombre|correo|email|direccion|contacto)|mis (?:[\w-]+ )?(?:datos|"
          r"contactos))",
    "it": r"(?:mi|me|il mio (?:[\w-]+ )?(?:numero|nome|contatto|indirizzo)|i miei (?:[\w-]+ )?(?:dati|contatti)|"
          r"la mia (?:[\w-]+ )?(?:email|mail))",
    "nl": r"(?:me|mij|mijn (?:[\w-]+ )?(?:nummer|naam|gegevens|e-?mail(?:adres)?|adres|contactgegevens))",
    "pt": r"(?:me|meu (?:[\w-]+ )?(?:numero|nome|e-?mail|contato|cadastro)|meus (?:[\w-]+ )?(?:dados|contatos))",
}
STOP = {
    "en": r"(?:stop+|quit|cease|enough|fuck off|piss off|go away|get lost|knock it off|pack it in|"
          r"(?<!the )(?<!an )end(?= (?:these |those |all |your |ur |the )?(?:messages|msgs|texts|emails|spam|promos|"
          r"newsletters?|notifications)\b))",
    "de": r"(?:stopp(?:en|t)?|aufh(?:oren|ort|ore|or)|hor(?:en|t|e)? (?:[\w-]+ ){0,2}auf|schluss|"
          r"lasst (?:das|es)|"
          r"unterlassen sie)",
    "fr": r"(?:arret(?:ez|e|er)?|cess(?:ez|e|er)|stop|f(?:ou|ich)tez[ -]moi la paix)",
    "es": r"(?:par(?:en|e|ad|ar)|para(?= (?:ya |de una vez )?de\b)|dej(?:en|e|ad|a)(?:me)? de|deten(?:ga|gan|er)|"
          r"basta|alto|stop)",
    "it": r"(?:smett(?:ete|ila|etela|i|a|ere)|basta|fermate|finitela|piantatela|stop)",
    "nl": r"(?:stop(?:pen|t)?|hou(?:d|dt|den)? (?:[\w-]+ )?op|kappen|ophouden)",
    "pt": r"(?:par(?:e|em|a|ar)|chega|basta|deix(?:e|em|a) de|stop)",
}
# A verb of stopping standing alone in its clause ("Parem!", "Stop ermee."): Spanish and Portuguese "para" is
# also "for", so only the imperatives count there.
STOP_ALONE = {
    "en": STOP["en"], "de": STOP["de"], "fr": STOP["fr"], "it": STOP["it"],
    "nl": r"(?:stop(?:pen|t)?(?: (?:er|daar)mee)?|kap (?:er|daar)mee|hou (?:er|daar)mee op|hou op)",
    "es": r"(?:paren|parad|basta(?: ya)?|alto|stop)",
    "pt": r"(?:parem|pare|chega|basta|stop)",
}
SEND = {
    "en": r"(?:send(?:ing)?|messag(?:e|ing)|text(?:ing)?|contact(?:ing)?|e-?mail(?:ing)?|writ(?:e|ing)|spam(?:ming)?|"
          r"bother(?:ing)?|harass(?:ing)?|pester(?:ing)?|call(?:ing)?|dm(?:ing)?)",
    "de": r"(?:schreiben|zuschreiben|senden|schicken|zuschicken|(?:voll)?(?:zu)?spammen|kontaktieren|anschreiben|"
          r"nerven|belastigen|simsen|texten|anrufen|zuzuspammen|zuschreiben|zu schreiben)",
    "fr": r"(?:envoyer|ecrire|contacter|spammer|harceler|deranger|texter|appeler)",
    "es": r"(?:envi|mand|escrib|contact|molest|llam|spame)\w*",
    "it": r"(?:scriver|mandar|inviar|contattar|chiamar|disturbar)\w*",
    "nl": r"(?:sturen|appen|mailen|berichten|sms(?:en)?|spammen|bellen|contacteren|schrijven|whatsappen)",
    "pt": r"(?:mand|envi|escrev|contat|lig|perturb)\w*",
}
REMOVE = {
    "en": r"(?:remove|remvoe|delete|erase|forget|drop|scrap|wipe|purge|unsubscribe|unsub|(?:take|taking|get|getting|"
          r"cross|strike|scratch)"
          r"(?= (?:[\w-]+ ){0,3}?(?:off|out of)\b))",
    "de": r"(?:loschen|losche|loscht|loschung|entfernen|entfernt|entferne|streichen|streicht|nehmen|nehmt|nimm|"
          r"vergessen|vergesst|vergiss|austragen|tragt|tragen|abmelden)",
    "fr": r"(?:retirer|retirez|supprimer|supprimez|effacer|effacez|oublier|oubliez|enlever|enlevez|rayer|rayez|"
          r"desinscrire|desinscrivez|desabonner|desabonnez)",
    "es": r"(?:quit(?:ar|en|e|adme|enme|ame)|sa(?:c|qu)(?:ar|en|a|adme|uenme|enme|ame)|borr(?:ar|en|e|adme|enme)|"
          r"elimin(?:ar|en|e|adme|enme|ame)|olvid(?:ar|en|e|ense|ate)|retir(?:ar|en|e|enme)|dar de baja|darme de baja|"
          r"den de baja|desuscrib\w*)",
    "it": r"(?:cancella\w*|elimina\w*|rimuov\w*|togli\w*|dimentica\w*|disiscriv\w*|levate\w*)",
    "nl": r"(?:verwijder(?:en|t)?|haal|haalt|halen|wis|wissen|vergeet|vergeten|schrap|schrappen|uitschrijven|"
          r"afmelden)",
    "pt": r"(?:remov\w*|tir(?:ar|e|em|a)\w*|apag(?:ar|uem|ue|a)\w*|exclu\w*|esque(?:cer|cam|ca)\w*|descadastr\w*|"
          r"delet\w*)",
}
CONSENT = {
    "en": r"\b(?:(?:withdraw|withdrawing|revoke|revoking|retract|cancel)\w* (?:my |all )?"
          r"(?:consent|permission|opt-?in)|"
          r"(?:i )?(?:no longer|dont|do not) (?:give (?:my )?)?consent)",
    "de": r"\b(?:widerrufe|widerrufen|ziehe) (?:hiermit )?(?:meine )?(?:einwilligung|zustimmung)",
    "fr": r"\b(?:retire|revoque|annule)\w* (?:mon )?consentement",
    "es": r"\b(?:retiro|revoco|retirar|revocar|anulo) (?:el )?(?:mi )?consentimiento",
    "it": r"\b(?:revoco|ritiro|revocare) (?:il |il mio )?consenso",
    "nl": r"\b(?:trek|intrekken|herroep)\w* (?:mijn )?toestemming|toestemming (?:[\w-]+ )?in\b",
    "pt": r"\b(?:revogo|retiro|revogar|cancelo) (?:o )?(?:meu )?consentimento",
}
NO_MORE = {
    "en": r"\b(?:no more|nomore(?:messages|msgs|texts|spam)?|no further|none of (?:these|your)|"
          r"dont want (?:[\w-]+ ){0,2}(?:anymore|any more)|"
          r"(?:rather|prefer) not (?:to )?(?:get|receive) any ?more|not (?:get|receive) any ?more|"
          r"no longer (?:want|wish) "
          r"(?:to )?(?:get|receive|be)|no longer interested in (?:hearing|getting|receiving))",
    "de": r"\b(?:keine|nichts) (?:[\w-]+ ){0,4}?meh?r\b|\bkeine weiteren\b|\bnicht mehr (?:[\w-]+ )?(?:schreiben|"
          r"anschreiben|schicken|"
          r"senden|kontaktieren|simsen|texten)",
    "fr": r"\b(?:plus de|ne (?:[\w-]+ ){0,3}plus|pas (?:[\w-]+ )?plus de|fini (?:les|des|avec les))\b",
    # "no me envíen más de tres cajas" is about how many, not about stopping
    "es": r"\b(?:no (?:[\w-]+ ){0,2}?mas(?! de\b| que\b)|ya no|nunca mas|ni un (?:[\w-]+ )?mas)\b",
    "it": r"\b(?:niente (?:[\w-]+ )?piu|non (?:[\w-]+ ){0,4}piu|basta (?:con )?)",
    "nl": r"\b(?:geen (?:[\w-]+ ){0,3}meer|niks (?:[\w-]+ ){0,3}meer|niet meer)\b",
    "pt": r"\b(?:nao (?:[\w-]+ ){0,4}mais(?! de\b| do que\b)|chega de|nada mais)\b",
}
FIRST_PERSON = {
    "en": r"\b(?:i(?:m| am)? opt(?:ing)? ?-?out|i opt out|count me out|(?:im|i am) out\W*$|"
          r"(?:im|i am) done with (?:[\w-]+ ){0,2}"
          r"(?:msgs?|messages|texts|emails|this|these|you)|unsubscribing\b|(?:im|i am) unsubscribing|i unsubscribe\b)",
    "de": r"\b(?:ich (?:melde|trage) mich (?:hiermit )?(?:[\w-]+ ){0,3}(?:ab|aus)|ich bin raus|ich kundige|"
          r"ich (?:mochte|will|wurde|werde) (?:mich )?(?:gerne? )?(?:[\w-]+ ){0,4}?(?:abmelden|austragen))",
    "fr": r"\b(?:je me (?:desabonne|desinscris)|je (?:veux|souhaite|voudrais) (?:me )?(?:desabonner|desinscrire))",
    "es": r"\b(?:me doy de baja|me (?:quiero )?(?:dar|desuscribo|salgo)|quiero (?:darme|dar) de baja|"
          r"quiero (?:salir|desuscribirme)|(?:quiero|quisiera|deseo|me gustaria) dejar de recibir)",
    "it": r"\b(?:mi disiscrivo|mi cancello|voglio (?:disiscrivermi|essere cancellat)|vorrei (?:disiscrivermi|"
          r"essere (?:cancellat|rimoss)))",
    "nl": r"\b(?:ik meld me af|ik schrijf me uit|(?:graag|wil (?:ik )?(?:me |mij )?)(?:[\w-]+ ){0,3}"
          r"(?:uitschrijven|uitgeschreven worden|afmelden))",
    "pt": r"\b(?:(?:quero|gostaria de) (?:deixar de receber|cancelar (?:a |minha )?(?:inscricao|subscricao))|"
          r"quero (?:sair da lista|sair disso|sair dessa lista|me descadastrar|"
          r"cancelar (?:o )?recebimento)|(?:gostaria|quero) de cancelar (?:o )?recebimento|"
          r"me descadastr)",
}
# Another thing than our messages, after a verb of stopping or removing: not an opt-out.
OTHER_THINGS = re.compile(
    r"\b[ldmnst]?(?:order|orders|bestellung|commande|pedido|ordine|bestelling|encomenda|appointment|termin|"
    r"rendez-vous|cita|"
    r"appuntamento|afspraak|workshop|taller|atelier|kurs|course|curso|corso|cursus|waitlist|warteliste|pickup|"
    r"abholliste|box|abo|class|classes|klasse|classe|clase|lezione|aula|package|paket|parcel|colis|paquete|"
    r"pacco|pakket|pacote|subscription box|delivery|lieferung|laughing|lachen|rire|reir|ridere|lachen|rir|bow|"
    r"schleife|(?:price|name|gift) tags?|etikett|pot|topf|photo|foto|pic|picture|address)\b"
)
# A list of something else: "remove me from the pickup list", "la lista del taller".
OTHER_LIST = re.compile(
    r"\b(?:pickup|waiting|wait|guest|class|course|workshop|event|order|delivery|gift|wish|shopping|abhol|warte|gaste|"
    r"kurs|workshop|attente|invites|cours|espera|invitados|curso|taller|attesa|invitati|corso|wacht|gasten|cursus|"
    r"ophaal|convidados) ?(?:list|liste|lista|lijst)\b|\b(?:list|liste|lista|lijst)\w* (?:del|de la|du|des|do|da|"
    r"van de|fur den|fur das|for the) (?:taller|curso|workshop|kurs|cours|atelier|corso|cursus|evento|event|pickup)\b"
)
QUESTION_HOW = re.compile(
    r"\b(?:how (?:do|can|to|would)|what happens if|is there a way|if i|wie (?:kann|melde|funktioniert)|comment|"
    r"como (?:me|hago|faco|puedo|posso)|come (?:faccio|posso)|hoe (?:kan|moet)|do i need|should i|can i)\b"
)
NEGATION = re.compile(
    r"\b(?:dont|do not|never|not|wont|please dont|nie|niemals|nicht|jamais|pas|no|nunca|jamas|mai|non|niet|nooit|nao)"
    r"(?: \w+){0,2}$"
)
# "Stop!" as a "wait, I got it wrong" or as delight ("stop it, you're making me blush"): not a request to stop
# messages. "Wrong number" is the opposite: a stranger asking us to stop.
CORRECTION = re.compile(
    r"\b(?:i mean(?! it)|i meant|wait|wrong(?! (?:number|person|guy|nummer))|mixed up|mistake|sorry|oops|typo|"
    r"ich meinte|falsch\w*(?<!falsche nummer)|verwechselt|warte|je voulais dire|mauvais\w*|erreur|attends|"
    r"equivoqu\w*|espera|volevo dire|sbagliat\w*|aspetta|ik bedoelde|verkeerd\w*|wacht|quis dizer|errad\w*|"
    r"cute|blush|amazing|mignon\w*|adorable|convint\w*|convinced|haha\w*|lol|geniale?)\b|"
    r"[\U0001f60d\U0001f602\U0001f923\U0001f648]"
)
FILLER = re.compile(
    r"\b(?:please|pls|plz|pleeease|now|already|just|seriously|for gods sake|for fucks sake|ffs|omg|ok|okay|"
    r"fucking|freaking|damn|right now|asap|again|thanks|thank you|thx|ty|bitte|jetzt|sofort|endlich|doch|mal|"
    r"verdammt|danke|svp|stp|merci|maintenant|por favor|porfa|pfv|pf|gracias|per favore|grazie|subito|"
    r"alsjeblieft|aub|nou|graag|bedankt|dank je|dank u|obrigad[oa]|agora|por favor|i said|ive said|i told you|"
    r"i asked|for real|already|hallo|hello|hi|hey|hola|bonjour|ciao|ola|lg|vg|mvg)\b"
)
DONT_WANT = {
    "en": r"\b(?:dont|do not|no longer) (?:want|wish|need) (?:to )?(?:[\w-]+ ){0,3}?(?:{receive}|{msgs})\b|"
          r"\b(?:want|like|wish) (?:to be |to get )?(?:out|off) (?:of )?(?:[\w-]+ ){{0,4}}{lists}",
    "de": r"\bich (?:will|mochte|wunsche) (?:[\w-]+ ){0,2}?(?:keine|nichts)\b",
    "fr": r"\bje ne (?:veux|souhaite|desire) (?:plus|pas|rien) (?:[\w-]+ ){0,3}?(?:{receive}|{msgs})",
    "es": r"\bno (?:quiero|deseo) (?:[\w-]+ ){0,2}?(?:{receive}|{msgs})",
    "it": r"\bnon (?:voglio|desidero) (?:piu )?(?:[\w-]+ ){0,2}?(?:{receive}|{msgs})",
    "nl": r"\bik wil (?:geen|niks|niets) (?:[\w-]+ ){0,3}?(?:{receive}|{msgs}|meer)",
    "pt": r"\bnao (?:quero|desejo) (?:mais )?(?:[\w-]+ ){0,2}?(?:{receive}|{msgs})",
}
RECEIVE = (r"(?:receive|receiving|get|getting|hear(?:ing)? from|erhalten|bekommen|recevoir|recibir|ricevere|ontvangen|"
           r"krijgen|receber|"
           # being contacted, in the passive: "no longer wish to be contacted", "niet meer benaderd worden"
           r"be (?:contacted|messaged|texted|e-?mailed|called)|kontaktiert (?:zu )?werden|angeschrieben (?:zu )?werden|"
           r"etre (?:contacte|recontacte|sollicite)e?s?|ser contactad[oa]s?|essere (?:contattat|ricontattat)[oaie]|"
           r"(?:benaderd|gecontacteerd|gebeld) (?:te )?worden|ser contatad[oa]s?)")
UNSUB_ALONE = {
    "en": r"(?:unsubscribe|unsub|opt ?-?out|remove me|take me off)",
    "de": r"(?:austragen|abmelden|abbestellen|mich abmelden|mich austragen)",
    "fr": r"(?:desabonner|desinscrire|desabonnez[ -]moi|desinscrivez[ -]moi|desabonnement|desinscription)",
    "es": r"(?:darme de [bv]aja|dar de [bv]aja|desuscribir(?:me)?|de baja|cancelar (?:la |mi )?suscripcion)",
    "it": r"(?:disiscrivermi|disiscrivetemi|cancellatemi)",
    "nl": r"(?:uitschrijven|afmelden|uitgeschreven worden)",
    "pt": r"(?:descadastrar|me descadastrem|sair da lista|cancelar (?:a |minha )?(?:inscricao|subscricao))",
}
REPEATED = re.compile(r"\b(?:how many times|how often do i|wie oft|combien de fois|cuantas veces|quante volte|hoe vaak|"
                      r"quantas vezes)\b")
SENTENCES = re.compile(r"[.!?;\n]+|\s[-–—]+\s")
COMMAS = re.compile(r"[,:]")
_WORDS = re.compile(r"[^\W_]+")
_NEGATOR = re.compile(r"\b(?:dont|do not|never|not|wont|nie|niemals|nicht|jamais|pas|no|nunca|jamas|mai|non|niet|nooit|"
                      r"nao)\b")


def revocation(folded: str, lang: str) -> str | None:
    """The concept that says "stop messaging me" in ``folded`` (text folded as ``_optout._fold`` does,
    newlines kept), in language ``lang``; None when there is none."""
    if not _ANY[lang].search(folded):
        return None
    repeated = REPEATED.search(folded)
    if repeated and _STOP_AFTER[lang].search(folded[repeated.end():]):
        return _named("asked again", lang)
    if SAID_STOP.search(folded):
        return _named("said stop", lang)
    if QUESTION_HOW.search(folded):
        return None
    for sentence in SENTENCES.split(folded):
        clean = " ".join(FILLER.sub(" ", sentence).split())
        if not clean:
            continue
        found = _in_sentence(clean, lang)
        if found:
            return found
        for part in COMMAS.split(clean):
            words = _WORDS.findall(part)
            joined = " ".join(words)
            if 0 < len(words) <= 3 and _STOP_ALONE[lang].fullmatch(joined):
                return _named("stop alone", lang)
            if words and _UNSUB_ALONE[lang].fullmatch(joined):
                return _named("unsubscribe alone", lang)
    return None


def about_something_else(folded: str, lang: str) -> bool:
    """The message names something other than our messages — an order, a workshop, an appointment — and
    neither messages nor a list: leaving or cancelling *that* is no opt-out."""
    return bool(OTHER_THINGS.search(folded)) and not _OURS[lang].search(folded) or bool(OTHER_LIST.search(folded))


# What makes a match no request: a condition or a question ("if you stop texting me", "why did you stop"),
# or a report of messages not arriving ("I'm getting no more messages about my order").
HYPOTHETICAL = re.compile(
    r"\b(?:if|unless|why|did|does|when|wenn|falls|warum|si|pourquoi|por que|porque|se|perche|als|waarom|"
    r"(?:im |i am |i )?(?:get|getting|receive|receiving)|bekomme|erhalte|krijg|ontvang|recibo|recois|ricevo|recebo|"
    r"mandan|schickt ihr)\b"
)


# Having said it already: "I said STOP", "what part of STOP don't you understand", "j'ai déjà dit STOP".
SAID_STOP = re.compile(
    r"\b(?:i|ive|i have|i already|i told you|j ?ai(?: deja)?|ich (?:habe|hab)(?: schon| doch)?|ya (?:les |te )?|"
    r"(?:ya )?(?:les |te )?(?:he|ho)(?: gia)?|ik heb(?: al)?|eu (?:ja )?)\s?(?:said|told you|wrote|typed|dit|ecrit|"
    r"gesagt|geschrieben|dije|dicho|escrito|detto|scritto|gezegd|geschreven|disse|escrevi)\b,? (?:[\w-]+ )?"
    r"(?:stopp?|arret|basta|baja|pare)\b"
    r"(?=\W*$|\W*[.!?,;]| (?:already|twice|before|again|times|schon|deja|ya|gia|al|ja)\b)|"
    r"\bwhat part of (?:stop|no)\b"
)


# Someone's words reported, not said to us.
REPORTED = re.compile(
    r"\b(?:wrote|written|replied|said|texted|typed|geschrieben|gesagt|geantwortet|ecrit|repondu|escribio|dijo|"
    r"respondio|scritto|detto|risposto|geschreven|gezegd|geantwoord|escreveu|disse|respondeu)\b"
)


def _named(name: str, lang: str) -> str:
    return f"{name}({lang})" if lang != "en" else name


def _checks(lang: str) -> list[tuple[str, re.Pattern[str]]]:
    msgs, mine, lists, send = MSGS[lang], MINE[lang], LISTS[lang], SEND[lang]
    remove = REMOVE[lang]
    checks = [
        ("withdrawn consent", CONSENT[lang]),
        # "keine Nachrichten mehr", "no more texts", "nicht mehr anschreiben": what ends must be our messages
        # ("keine Fragen mehr" is no opt-out).
        ("no more messages", NO_MORE[lang]),  # and our messages after it: see _in_sentence
        ("opting out", FIRST_PERSON[lang]),
        ("does not want messages", DONT_WANT[lang].replace("{receive}", RECEIVE).replace("{msgs}", msgs)
         .replace("{{0,4}}", "{0,4}").replace("{lists}", lists)),
        ("stop sending", rf"\b{STOP[lang]}\b,? (?:[\w-]+ ){{0,3}}?(?:(?:to |with |met |de |di |a |"
                         rf"zu )?(?:[\w-]+ )?\b{send}\b|"
                         rf"(?:[\w-]+ ){{0,2}}{msgs}\b)"),
        ("remove me", rf"\b{remove}\b (?:[\w-]+ ){{0,3}}?(?:{mine})\b"),
        ("remove from list", rf"\b{remove}\b (?:[\w-]+ ){{0,4}}?(?:{mine})? ?(?:[\w-]+ ){{0,4}}?"
                             rf"(?:off|from|out of|aus|de|da|del|dalla|dal|van|uit|"
                             rf"of) (?:[\w-]+ ){{0,3}}?{lists}\w*\b"),
        ("send me no", rf"\b{send}\b (?:[\w-]+ ){{0,3}}?(?:{msgs})\b.*\b(?:anymore|any more|no more)\b"),
    ]
    if lang in ("de", "nl"):  # the verb comes last: "meine Nummer aus eurer Liste löschen", "mij afmelden"
        checks.append(("remove me", rf"\b(?:{mine})\b (?:[\w-]+ ){{0,5}}?\b{remove}\b"))
    return [(name, re.compile(pattern)) for name, pattern in checks]


# Compiled once: a run classifies every message in seven languages.
_CHECKS = {lang: _checks(lang) for lang in MSGS}
_STOP_AFTER = {lang: re.compile(rf"\b{STOP[lang]}\b") for lang in MSGS}
_STOP_ALONE = {lang: re.compile(STOP_ALONE[lang]) for lang in MSGS}
_UNSUB_ALONE = {lang: re.compile(UNSUB_ALONE[lang]) for lang in MSGS}
# One pass over the whole message first: most messages hold none of a language's ideas.
_ANY = {lang: re.compile(rf"\b(?:{STOP[lang]}|{REMOVE[lang]}|{UNSUB_ALONE[lang]})\b|{CONSENT[lang]}|{NO_MORE[lang]}|"
                         rf"{FIRST_PERSON[lang]}|" + DONT_WANT[lang].replace("{receive}", RECEIVE)
                         .replace("{msgs}", MSGS[lang]).replace("{{0,4}}", "{0,4}").replace("{lists}", LISTS[lang])
                         + rf"|\b{SEND[lang]}\b") for lang in MSGS}
_ABOUT_MESSAGES = {lang: re.compile(rf"\b(?:{MSGS[lang]}|{SEND[lang]}|{RECEIVE})\b|nomore") for lang in MSGS}
_OURS = {lang: re.compile(rf"\b{MSGS[lang]}\b|\b{LISTS[lang]}\w*\b") for lang in MSGS}


# Checks whose wording holds its own negation ("no more", "I don't want"): a negator inside them is theirs.
_NEGATED_BY_DESIGN = frozenset({"no more messages", "does not want messages", "withdrawn consent"})
# A negator right after the verb: "Haal me niet van de lijst", "löschen Sie mich nicht".
_NEGATED_AFTER = re.compile(r"^\W*(?:[\w-]+ )?(?:niet|nicht|pas|non|nao|not)\b")


def _in_sentence(clause: str, lang: str) -> str | None:
    for name, pattern in _CHECKS[lang]:
        match = pattern.search(clause)
        if match is None:
            continue
        if name == "no more messages" and not _ABOUT_MESSAGES[lang].search(clause, match.start()):
            continue
        before = clause[: match.start()].strip()
        # A condition or question reaches only to the comma: "No sé quiénes son, borren mi número".
        if HYPOTHETICAL.search(COMMAS.split(before)[-1]) or (name not in _NEGATED_BY_DESIGN and (
                NEGATION.search(before) or _NEGATOR.search(match.group(0)))):
            continue
        if name not in _NEGATED_BY_DESIGN and _NEGATED_AFTER.search(clause[match.end():]):
            continue
        # The wording's own negation, negated again: "non voglio smettere di ricevere", "I don't want to stop getting".
        if name in _NEGATED_BY_DESIGN and _STOP_AFTER[lang].search(match.group(0)[1:]):
            continue
        if about_something_else(clause, lang):
            continue
        if name == "stop sending" and REPORTED.search(clause):  # "my friend wrote STOP to another shop"
            continue
        return _named(name, lang)
    return None
