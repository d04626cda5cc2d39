"""Which workchains and shard ids may become label values (ton-formats.md §2, §3.1).

A shard id is a 64-bit prefix: the bits above its lowest set bit are the prefix, the lowest set bit marks where it
ends, so the prefix length (the shard's depth) is 63 minus the index of that bit. `8000000000000000` is the whole
workchain (depth 0); a split makes `4000000000000000` and `C000000000000000` (depth 1), and so on. Zero has no
set bit and is no shard. TON's format allows prefixes of up to 60 bits (`max_shard_pfx_len`); real networks split
a workchain into a handful of shards, so the default depth accepted here is far lower (limits.py), which keeps a
random 64-bit value (depth ~63) from becoming a label. The masterchain is never split: its only shard is
`8000000000000000`.

A value that fails is the record's fault, counted like any other bad field: `bad_workchain` (a number the
configuration does not allow) or `bad_shard` (a number that is no shard prefix, or deeper than allowed); a value
that is not a number at all stays `bad_field`.
"""

from collections.abc import Iterable

from ton_exporter.parsers.errors import RecordError

MASTERCHAIN = -1
TON_MAX_DEPTH = 60  # max_shard_pfx_len in TON's block format
SHARD_REASONS = ("bad_workchain", "bad_shard")
_MASK = (1 << 64) - 1
_CACHE_SIZE = 4096


def shard_depth(shard: int) -> int:
    """The prefix length of an unsigned 64-bit shard id (ValueError for 0)."""
    if shard == 0:
        raise ValueError("shard 0 has no set bit")
    return 64 - (shard & -shard).bit_length()


class ShardRules:
    """Checks (workchain, shard) as read from a record and turns them into label values ("0", "8000000000000000").

    Results are cached (bounded): records of one node carry a few pairs, read millions of times."""

    def __init__(self, workchains: Iterable[int] = (-1, 0), max_depth: int = 8) -> None:
        if not 0 <= max_depth <= TON_MAX_DEPTH:
            raise ValueError(f"max shard depth {max_depth} is outside 0..{TON_MAX_DEPTH}")
        self.workchains = frozenset(workchains)
        self.max_depth = max_depth
        self._workchain_labels = {wc: str(wc) for wc in self.workchains}
        self.workchain_labels = frozenset(self._workchain_labels.values())
        self._cache: dict[tuple[object, object], tuple[str, str]] = {}

    def labels(self, workchain: object, shard: object) -> tuple[str, str]:
        """(workchain, shard) label values, or RecordError(bad_field | bad_workchain | bad_shard)."""
        key = (workchain, shard)
        found = self._cache.get(key)
        if found is not None:
            return found
        labels = (self.workchain(workchain), self.shard(shard, workchain == MASTERCHAIN))
        if len(self._cache) < _CACHE_SIZE and type(workchain) is int:
            self._cache[key] = labels
        return labels

    def workchain(self, workchain: object) -> str:
        if type(workchain) is not int:
            raise RecordError("bad_field", f"workchain {workchain!r:.40}")
        label = self._workchain_labels.get(workchain)
        if label is None:
            allowed = ", ".join(map(str, sorted(self.workchains)))
            raise RecordError("bad_workchain", f"workchain {workchain} is not one of {allowed}")
        return label

    def shard(self, shard: object, masterchain: bool = False) -> str:
        """TON prints a shard as `%016X` of its unsigned 64-bit value: `-9223372036854775808` -> `8000000000000000`."""
        if isinstance(shard, bool) or not isinstance(shard, int | str):
            raise RecordError("bad_field", f"shard {shard!r:.40}")
        try:
            value = int(shard)
        except ValueError:
            raise RecordError("bad_field", f"shard {shard!r:.40}") from None
        if not -(1 << 63) <= value <= _MASK:
            raise RecordError("bad_shard", f"shard {shard!r:.40} is not a 64-bit value")
        unsigned = value & _MASK
        if unsigned == 0:
            raise RecordError("bad_shard", "shard 0 is no shard prefix (no set bit)")
        depth = shard_depth(unsigned)
        limit = 0 if masterchain else self.max_depth
        if depth > limit:
            where = "the masterchain is never split" if masterchain else f"the limit is {limit}"
            raise RecordError("bad_shard", f"shard {unsigned:016X} has depth {depth}; {where}")
        return f"{unsigned:016X}"


DEFAULT_RULES = ShardRules()
