"""Drafting replies: one ``Drafter`` interface, an offline and an OpenAI implementation."""
