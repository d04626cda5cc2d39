"""SYNTHETIC session stats for the label bounds (docs/series-bounds.md): hostile shard ids, and a day of splits and
merges shaped like a real workchain.

Every line is the real node1 `collatedBlock` template (its first one) with a new block id and collation time; the
measured values are the template's, so only the identity differs from real data.
"""

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ton_exporter.sources.replay import load_bundled

ROOT = 1 << 63  # the whole workchain (depth 0); the masterchain's only shard
START = 1_781_460_000.0
_MASK = (1 << 64) - 1


def _template() -> dict[str, Any]:
    return next(r for r in load_bundled()["node1"] if r["@type"] == "validatorStats.collatedBlock")


def _signed(shard: int) -> str:
    """TON's JSON writes a shard as a signed int64 string (ton-formats.md §2)."""
    return str(shard - (1 << 64) if shard >= 1 << 63 else shard)


def block_line(template: dict[str, Any], workchain: int, shard: int, seqno: int, t: float) -> bytes:
    record = dict(template)
    record["block_id"] = {**template["block_id"], "workchain": workchain, "shard": _signed(shard), "seqno": seqno}
    record["collated_at"] = t
    return orjson.dumps(record)


def random_shard_lines(n: int = 3000, seed: int = 19) -> list[tuple[int, int]]:
    """(workchain, shard) of `n` lines with `n` different random 64-bit shard ids; every tenth line of workchain 5
    or 77, as a corrupt or foreign file has them."""
    rng = random.Random(seed)
    shards: set[int] = set()
    while len(shards) < n:
        shards.add(rng.getrandbits(64) | 1)  # odd: never 0, never a shallow prefix by chance
    workchains = [(5 if i % 20 == 0 else 77) if i % 10 == 0 else 0 for i in range(n)]
    return list(zip(workchains, sorted(shards, key=lambda _: rng.random()), strict=True))


def shallow_shard_lines(n: int = 3000, max_depth: int = 8, seed: int = 19) -> list[tuple[int, int]]:
    """(workchain 0, shard) of `n` lines with valid shard prefixes of depth 1..max_depth, drawn at random: as many
    distinct shards as the depth allows (511 for 8), far past a per-node cap."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        depth = rng.randint(1, max_depth)
        prefix = rng.getrandbits(depth)
        out.append((0, ((prefix << 1 | 1) << (63 - depth)) & _MASK))
    return out


def write_lines(path: Path, ids: list[tuple[int, int]], every: float = 1.0) -> Path:
    template = _template()
    with open(path, "wb") as out:
        for i, (workchain, shard) in enumerate(ids):
            out.write(block_line(template, workchain, shard, i + 1, START + i * every) + b"\n")
    return path


def children(shard: int) -> tuple[int, int]:
    low = shard & -shard
    return shard - (low >> 1), shard + (low >> 1)


def parent(shard: int) -> int:
    low = shard & -shard
    return (shard & ~((low << 2) - 1) & _MASK) | (low << 1)


def split_merge_day(
    seed: int = 19, block_every: float = 60.0, reshape_every: float = 1200.0, max_depth: int = 5
) -> Iterator[tuple[float, int, int]]:
    """(time, workchain, shard) of every block of a SYNTHETIC day: a masterchain block and one block per live
    basechain shard every `block_every` seconds; every `reshape_every` seconds one shard splits (up to
    `max_depth`) or two siblings merge, as TON's split/merge does under changing load."""
    rng = random.Random(seed)
    leaves = {ROOT}  # the basechain's shards
    ticks = int(86_400 / block_every)
    per_reshape = int(reshape_every / block_every)
    for tick in range(ticks):
        if tick and tick % per_reshape == 0:
            _reshape(leaves, rng, max_depth)
        t = START + tick * block_every
        yield t, -1, ROOT
        for shard in sorted(leaves):
            yield t, 0, shard


def _reshape(leaves: set[int], rng: random.Random, max_depth: int) -> None:
    mergeable = [s for s in leaves if s != ROOT and {*children(parent(s))} <= leaves]
    splittable = [s for s in leaves if 64 - (s & -s).bit_length() < max_depth]
    if mergeable and (not splittable or rng.random() < 0.4):
        a, b = children(parent(rng.choice(sorted(mergeable))))
        leaves -= {a, b}
        leaves.add(parent(a))
    elif splittable:
        shard = rng.choice(sorted(splittable))
        leaves.remove(shard)
        leaves.update(children(shard))


def write_day(path: Path, seed: int = 19) -> list[tuple[float, int, int]]:
    template = _template()
    blocks = list(split_merge_day(seed))
    with open(path, "wb") as out:
        for seqno, (t, workchain, shard) in enumerate(blocks, 1):
            out.write(block_line(template, workchain, shard, seqno, t) + b"\n")
    return blocks
