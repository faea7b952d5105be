"""Ingest: provider payloads in, normalized rows out, idempotently.

``ingest_bytes`` checks the signature (over the raw bytes, before parsing),
picks the parser, and writes the parsed items in batches, each batch one
``BEGIN IMMEDIATE`` transaction. Re-ingesting the same input is always safe:
a message is unique by (channel, provider id), a status by (channel, provider
id, status), a provider preference by its timestamp — Meta retries for days.

A bad record never stops the batch: it is counted in ``rejected``, reported
with its line or index and stored in ``rejects`` (raw text kept, truncated at
64 KiB; the reason at a few hundred characters) so that nothing is silently
lost. Only a problem with the input as a whole (not text, unknown format, bad
signature) raises ``InputError``, before anything is written.

What is stored when: each batch of ``ingest.batch_size`` records is committed as
it is written. If parsing gives up after the first batch, the records already
parsed stay and one reject says where it stopped; so an input is either refused
whole (nothing stored) or stored with its bad records as rejects. A run stopped
from outside (Ctrl-C, SIGKILL, a full disk) keeps the batches it committed; the
same command run again completes it, duplicates recognised.

``ingest_inputs`` (in ``ingest_files``) runs several inputs, one result each.
"""

from __future__ import annotations

import email.errors
from collections.abc import Callable, Iterable, Iterator
from itertools import islice

from ..channels.policy import POLICIES, channels_where
from ..clock import Clock, to_iso
from ..config import Config
from ..db.connection import Store
from ..db.rejects import bounded
from ..errors import AutopilotError, ConfigError, InputError
from ..secrets import Secrets
from ._parsers import FORMATS, Limits, get_parser
from ._parsers.detect import detect_format
from ._records import ParsedItem, Rejected
from ._signature import verify
from ._writer import IngestReport, Writer, storable

SIGNED_FORMATS = channels_where(signed_webhook=True)


def _check_signature(data: bytes, fmt: str, signature: str, config: Config, secrets: Secrets) -> None:
    if fmt not in SIGNED_FORMATS:
        raise InputError(f"--signature applies to whatsapp and instagram payloads, not {fmt}")
    channel = config.channels.get(fmt)
    env_name = getattr(channel, "app_secret_env", None)
    if not env_name:
        raise ConfigError(
            f"channels.{fmt}.app_secret_env is not set in the config; it is needed to check --signature"
        )
    verify(data, signature, secrets.require(env_name, f"app secret for channels.{fmt}"))


# What a parser raises on hostile input it did not anticipate (deep nesting, a 5,000-digit
# number, a huge line); programming errors (NameError, AssertionError…) still surface.
PARSE_ERRORS = (ValueError, TypeError, LookupError, AttributeError, OverflowError, RecursionError,
                MemoryError, OSError, email.errors.MessageError)




def parse_guarded(parse: Callable[[], Iterable[ParsedItem]]) -> Iterator[ParsedItem]:
    """The parser's items, whatever the parser raises on hostile input.

    A failure before the first item means the input is unusable as a whole
    (``InputError``: nothing stored, a webhook answers 400); after it, the
    records already parsed are kept and one Rejected says where parsing stopped.
    """
    produced = 0
    try:
        for item in parse():
            produced += 1
            yield item
    except InputError as exc:
        if not produced:
            raise
        yield Rejected(reason=storable(f"parsing stopped after {produced} records: {exc}"))
    except AutopilotError:
        raise
    except PARSE_ERRORS as exc:
        reason = storable(f"input cannot be parsed ({type(exc).__name__}: {str(exc)[:200]})")
        if not produced:
            raise InputError(reason) from None
        yield Rejected(reason=f"parsing stopped after {produced} records: {reason}")


def _batches(items: Iterable[ParsedItem], size: int) -> Iterator[list[ParsedItem]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


# The format detection or a parser failing this way on one input means the input is bad,
# not our code: ``ingest_inputs`` reports that input as unusable and goes on with the others.
# Programming errors (AttributeError, KeyError, NameError, TypeError, AssertionError…) are not
# listed and still surface as "internal error".
BAD_INPUT_ERRORS = (RecursionError, ValueError, OverflowError, email.errors.MessageError)
"""ValueError covers UnicodeError, json.JSONDecodeError, pydantic's ValidationError and
int()'s digit limit."""


def describe_bad_input(exc: BaseException) -> str:
    return f"input cannot be parsed ({type(exc).__name__}: {bounded(str(exc), 200)})"


_LOOKS_LIKE = {**{name: p.payload_description for name, p in POLICIES.items()}, "mbox": "an mbox mailbox"}


def _not_jsonl(data: bytes, batch: list[ParsedItem]) -> InputError | None:
    """When no line of a ``--format jsonl`` input parses and the content is another known
    format (a pretty-printed webhook, an e-mail), say so instead of rejecting every line."""
    if not batch or not all(isinstance(item, Rejected) for item in batch):
        return None
    try:
        looks = detect_format(data)
    except (AutopilotError, *BAD_INPUT_ERRORS):
        return None
    if looks not in _LOOKS_LIKE:
        return None
    first_line = data.lstrip(b"\xef\xbb\xbf \t\r\n").split(b"\n", 1)[0].strip()
    pretty = " (one JSON document over several lines, not one event per line)" if first_line in (b"{", b"[") else ""
    first = batch[0]
    assert isinstance(first, Rejected)
    return InputError(
        f"no line is a JSONL event (line {first.line}: {bounded(first.reason, 120)}); the content looks like "
        f"{_LOOKS_LIKE[looks]}{pretty}: use --format {looks} or --format auto"
    )


BatchCallback = Callable[[int, float | None], None]
"""Called after each committed batch with the records in it and the part of the input
done (from line numbers; None when the input has none, e.g. one JSON document)."""


def ingest_bytes(
    store: Store,
    data: bytes,
    *,
    fmt: str,
    config: Config,
    clock: Clock,
    secrets: Secrets,
    signature: str | None = None,
    source: str | None = None,
    on_batch: BatchCallback | None = None,
) -> IngestReport:
    """Ingest one input (a file's bytes, or stdin). ``fmt`` may be ``auto``.

    Raises ``InputError`` (or one of ``BAD_INPUT_ERRORS``, from the format
    detection) when the input is unusable as a whole; nothing is stored then.
    """
    explicit = fmt
    if fmt == "auto":
        fmt = detect_format(data)
    elif fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; formats are auto, {', '.join(FORMATS)}")
    if signature is not None:
        _check_signature(data, fmt, signature, config, secrets)
    parser = get_parser(fmt)
    # now: the date of last resort for a record without one (an e-mail with no Date or Received).
    limits = Limits(max_message_bytes=config.ingest.max_message_bytes, now=clock.now())
    items = parse_guarded(lambda: parser(data, limits))
    writer = Writer(fmt, source, to_iso(clock.now()), config.ingest.max_message_bytes)
    lines = data.count(b"\n") + 1 if on_batch else 1
    # The first batch is parsed before any write: an input that is unusable as a whole
    # raises InputError here, with nothing stored. After it, parse_guarded turns a parser
    # that gives up into one reject saying where, and write_isolated a record the database
    # cannot take into a reject: an input is refused whole or stored with its bad records
    # as rejects, never cut short silently.
    first = True
    for batch in _batches(items, config.ingest.batch_size):
        if first and explicit == "jsonl" and (refusal := _not_jsonl(data, batch)):
            raise refusal
        first = False
        with store.transaction() as conn:
            writer.write_batch(conn, batch)
        if on_batch:
            line = next((item.line for item in reversed(batch) if item.line is not None), None)
            on_batch(len(batch), None if line is None else min(1.0, line / lines))
    return writer.report
