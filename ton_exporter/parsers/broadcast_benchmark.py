"""`Broadcast_benchmark` messages (ton-formats.md §8): one (de)compression of a candidate or block broadcast.

    Broadcast_benchmark <op> block_id=<ID>[ called_from=<src>] time_sec=<F> compression=<C>[ original_size=<n>]
        compressed_size=<n>

`op` is a stage (`serialize`/`compress` = compression, `deserialize`/`decompress` = decompression) and a type
(`candidate`, `block_broadcast`, `block_full`, `block_candidate_broadcast`, and `candidate_data` of the Jan 2026
branches). `time_sec` is the (de)compression alone, logged when it ends. Fields are read by name, in any order;
unknown fields are ignored. A message without a block id, a time, a compression or a compressed size, or with a
value that is not a number, is malformed (`BenchmarkError`).

Label values are bounded: an op, `called_from` or compression outside the known sets becomes `other` (and is
still counted); a missing `called_from` (the `block_full` ops) is `none`. `compressedV2<alg>`, which
`serialize_block_broadcast` writes without the underscore, is spelled `compressedV2_<alg>` like everywhere else.
"""

import math
import re
from dataclasses import dataclass

MARKER = b"Broadcast_benchmark "

TYPES = ("candidate", "block_broadcast", "block_full", "block_candidate_broadcast", "candidate_data")
OPS: tuple[str, ...] = (
    *(f"serialize_{t}" for t in TYPES[:4]),
    *(f"deserialize_{t}" for t in TYPES[:4]),
    "compress_candidate_data",
    "decompress_candidate_data",
)
CALLED_FROM = ("validator_session", "public", "fast-sync", "custom", "collator_node", "none")
ALGORITHMS = ("BaselineLZ4", "ImprovedStructureLZ4", "ImprovedStructureLZ4WithState")
COMPRESSIONS = ("none", "compressed", "compressedV2", *(f"compressedV2_{a}" for a in ALGORITHMS))
OTHER = "other"

_KNOWN_OPS = frozenset(OPS)
_KNOWN_CALLED_FROM = frozenset(CALLED_FROM)
_KNOWN_COMPRESSIONS = frozenset(COMPRESSIONS)
_FIELD = re.compile(rb"(\w+)=(\S*)")

FAST = re.compile(
    rb"\]\tBroadcast_benchmark ([^\s\x1b]+) block_id=[^\s\x1b]+(?: called_from=([^\s\x1b]+))? time_sec=(\d+\.\d+) "
    rb"compression=([^\s\x1b]+)(?: original_size=(\d+))? compressed_size=(\d+)"
    rb"(?=(?:\x1b\[[0-9;]*m)*(?:[ \r\n]|$))"
)
"""The fields in the order every known release writes them, right after a td prefix (a colour code may follow):
what the exporter's bulk path finds in a block of lines. Groups: op, called_from, time_sec, compression,
original_size, compressed_size (absent ones are b""). A benchmark message this does not match goes through
`parse()`."""


class BenchmarkError(ValueError):
    """A malformed `Broadcast_benchmark` message."""


@dataclass(frozen=True, slots=True)
class Benchmark:
    op: str  # as written (the label is `op_label(op)`)
    block_id: str
    called_from: str | None
    time_sec: float
    compression: str  # as written
    original_size: int | None
    compressed_size: int

    @property
    def stage(self) -> str:
        return stage_of(self.op)

    @property
    def type(self) -> str:
        return self.op.partition("_")[2]

    @property
    def labels(self) -> tuple[str, str, str]:
        """(op, called_from, compression) label values: bounded, normalised."""
        return label_values(self.op, self.called_from, self.compression)


def parse(message: bytes) -> Benchmark:
    """A message that starts with `MARKER`."""
    op, _, rest = message[len(MARKER) :].partition(b" ")
    fields = dict(_FIELD.findall(rest))
    try:
        block_id = fields[b"block_id"]
        compression = fields[b"compression"]
        time_sec = float(fields[b"time_sec"])
        compressed_size = int(fields[b"compressed_size"])
        original = fields.get(b"original_size")
        original_size = int(original) if original is not None else None
    except KeyError as e:
        raise BenchmarkError(f"no {e.args[0].decode()}") from None
    except ValueError as e:
        raise BenchmarkError(str(e)) from None
    if not op or not block_id or not compression:
        raise BenchmarkError("empty op, block_id or compression")
    if not math.isfinite(time_sec) or time_sec < 0 or compressed_size < 0 or (original_size or 0) < 0:
        raise BenchmarkError("a negative or infinite number")
    called_from = fields.get(b"called_from")
    return Benchmark(
        op=op.decode(errors="replace"),
        block_id=block_id.decode(errors="replace"),
        called_from=called_from.decode(errors="replace") if called_from is not None else None,
        time_sec=time_sec,
        compression=compression.decode(errors="replace"),
        original_size=original_size,
        compressed_size=compressed_size,
    )


def stage_of(op: str) -> str:
    if op.startswith(("serialize_", "compress_")):
        return "compress"
    if op.startswith(("deserialize_", "decompress_")):
        return "decompress"
    return OTHER


def normalise_compression(compression: str) -> str:
    if compression.startswith("compressedV2") and len(compression) > 12 and compression[12] != "_":
        return "compressedV2_" + compression[12:]
    return compression


def label_values(op: str, called_from: str | None, compression: str) -> tuple[str, str, str]:
    compression = normalise_compression(compression)
    return (
        op if op in _KNOWN_OPS else OTHER,
        "none" if called_from is None else called_from if called_from in _KNOWN_CALLED_FROM else OTHER,
        compression if compression in _KNOWN_COMPRESSIONS else OTHER,
    )


def block_key(block_id: str) -> str:
    """The block's root hash in lower case: candidates are logged by root hash, blocks as
    `(wc,shard,seqno):ROOT:FILE`; both name the same block."""
    if block_id.startswith("("):
        parts = block_id.split(":")
        if len(parts) >= 2:
            return parts[1].lower()
    return block_id.lower()
