import unicodedata

from autopilot_cli.textnorm import _FORMAT_CHARS, drop_format_chars, fold, strip_accents


def test_format_char_class_covers_every_cf_code_point() -> None:
    missing = [
        hex(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf" and not _FORMAT_CHARS.match(chr(c))
    ]
    assert missing == []


def test_fold_fast_path_agrees_with_the_unicode_path() -> None:
    for text in ("Hello  World\tSTOP", "ＳＴＯＰ", "ki\u200bll me", "Don\u2019t", "Arrêt", "line\nbreak"):
        folded = fold(text)
        assert "\u200b" not in folded and "  " not in folded
    assert fold("ＳＴＯＰ") == "stop" == fold("STOP")
    assert fold("Don\u2019t") == "don't"
    assert fold("a\n b", keep_newlines=True) == "a\n b"
    assert strip_accents(fold("Arrêt DÉSINSCRIRE")) == "arret desinscrire"
    assert drop_format_chars("a\u200db\u202ec") == "abc"
