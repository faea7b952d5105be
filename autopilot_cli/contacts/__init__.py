"""Contacts: who they are (directory, addresses), what they want (preferences, consent, the opt-out
classifier, unsubscribe tokens) and what they were told (history).
"""
