"""SYNTHETIC td text logs of a small validator network, written from the grammar of ton-formats.md §7-8.

No real text log with `Broadcast_benchmark` lines is public, so tests, the golden /metrics, the slowest-blocks
analysis and the benchmark run on logs made here. Nothing in them was measured: sizes, times and delays are drawn
from a seeded random generator within plausible ranges, messages other than the benchmarks are the few that
ton-formats.md §7.3 names (with made-up keys and ids). What is faithful is the form:

* four nodes, each written the way one kind of deployment writes it:
  node1 stderr (tontester `node1/log`), coloured, 9 fractional digits (libstdc++);
  node2 stderr, coloured, 6 digits (libc++), also a collator node (`called_from=collator_node`);
  node3 `-l log`: plain, one file per thread (`log`, `log.thread<N>.log`), 9 digits;
  node4 `--async-logname log`: plain, 6 digits, an older build (the Jan 2026 branches) that logs its benchmarks
  with `LOG(DEBUG)` (`compress_candidate_data`, `compressedV2` without an algorithm) and runs at -v4;
* every op of §8.1-8.2 with every `called_from` and compression value, `compressedV2<alg>` without underscore from
  `serialize_block_broadcast` included;
* threads interleaved (lines of different threads reach a shared file slightly out of time order), multi-line
  messages, inline colour codes.

Three blocks are slow on purpose, so that the slowest-blocks analysis has an answer to find: block 3 is fetched
in full by node3 2.3 s after it was broadcast, block 5 reaches node3 1.4 s late, and node2 takes 0.9 s to
decompress the candidate of block 8. Some combinations (a custom-overlay broadcast compressed by its sender and
received as `none`) are there to cover the matrix, not because a real network would log them together.

`python -m synthetic.text_logs DIR [--blocks N] [--seed S] [--nodes node1,...]` writes
`DIR/node<N>/log*`; tests/fixtures/text-logs is its output with the defaults.
"""

import argparse
import hashlib
import heapq
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

START_NS = 1_784_196_000 * 10**9  # 2026-07-16 10:00:00 UTC
BLOCK_PERIOD_NS = 700_000_000
SHARD = "8000000000000000"
COLOURS = {0: b"\x1b[1;31m", 1: b"\x1b[1;31m", 2: b"\x1b[1;33m", 3: b"\x1b[1;36m"}
GRAY, RESET = "\x1b[1;90m", "\x1b[0m"
FLUSH_LAG_NS = 4 * 10**9  # no block's lines come later than this after the block starts
SLOW_FULL_FETCH, SLOW_BROADCAST, SLOW_DECOMPRESSION = 3, 5, 8


@dataclass(frozen=True)
class Profile:
    name: str
    layout: str  # "stderr" (coloured), "threads" (-l: one plain file per thread) or "async" (one plain file)
    digits: int  # fractional digits of the timestamp: 9 (libstdc++) or 6 (libc++)
    legacy: bool = False  # Jan 2026 build: benchmarks at DEBUG, candidate_data ops, compressedV2 without algorithm
    threads: int = 12


NODES = (
    Profile("node1", "stderr", 9),
    Profile("node2", "stderr", 6),
    Profile("node3", "threads", 9, threads=8),
    Profile("node4", "async", 6, legacy=True),
)


@dataclass(frozen=True)
class Block:
    i: int
    workchain: int
    root: str  # root hash, lower-case hex (how candidates are logged)
    full_id: str  # (wc,shard,seqno):ROOT:FILE (how blocks are logged)
    leader: int
    others: list[int]
    size: int
    v2: bool  # whether candidates and public broadcasts use compressedV2
    algorithm: str


@dataclass(frozen=True, order=True)
class Entry:
    written_ns: int  # when the line reaches the file (ordering)
    node: int
    seq: int
    time_ns: int
    level: int
    thread: int
    site: str  # "file.cpp:LINE"
    extras: str  # "[#tag][!actor][&comment]" as present
    message: str


class Network:
    def __init__(self, seed: int, profiles: tuple[Profile, ...] = NODES) -> None:
        self.rng = random.Random(seed)
        # The collation and validation timing lines draw from their own generator, so that adding them left every
        # other line of the fixture as it was.
        self.timing_rng = random.Random(seed + 1)
        self.seed = seed
        self.profiles = profiles
        self.seq = 0
        self.seqno = {-1: 1000, 0: 4000}
        self.heap: list[Entry] = []

    # --- lines

    def log(
        self,
        node: int,
        time_ns: int,
        level: int,
        site: str,
        message: str,
        *,
        tag: str = "",
        actor: str = "",
        comment: str = "",
        thread: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        profile = self.profiles[node]
        if level >= 4 and not profile.legacy:  # -v3: DEBUG is not written
            return
        rng = rng or self.rng
        if thread is None:
            thread = rng.randint(1, profile.threads)
        extras = (f"[#{tag}]" if tag else "") + (f"[!{actor}]" if actor else "") + (f"[&{comment}]" if comment else "")
        written = time_ns + rng.randint(0, 400_000)  # threads reach the shared file slightly out of order
        self.seq += 1
        heapq.heappush(self.heap, Entry(written, node, self.seq, time_ns, level, thread, site, extras, message))

    def benchmark(
        self,
        node: int,
        end_ns: int,
        op: str,
        block_id: str,
        *,
        called_from: str | None,
        seconds_us: int,
        compression: str,
        original: int | None,
        compressed: int,
    ) -> None:
        legacy = self.profiles[node].legacy
        if legacy:
            op = {"serialize_candidate": "compress_candidate_data"}.get(op, op)
            op = {"deserialize_candidate": "decompress_candidate_data"}.get(op, op)
            if compression.startswith("compressedV2"):
                compression = "compressedV2"
        fields = [f"Broadcast_benchmark {op} block_id={block_id}"]
        if called_from is not None and not op.endswith("candidate_data"):
            fields.append(f"called_from={called_from}")
        fields.append(f"time_sec={seconds_us / 1e6:.6f} compression={compression}")
        if original is not None:
            fields.append(f"original_size={original}")
        fields.append(f"compressed_size={compressed}")
        site, comment = _site(op, compression, called_from, legacy)
        actor = _actor(op, called_from)
        self.log(node, end_ns, 4 if legacy else 2, site, " ".join(fields), actor=actor, comment=comment)

    # --- the network's life

    def start(self) -> None:
        for node, profile in enumerate(self.profiles):
            t = START_NS + node * 1_300_000
            self.log(
                node,
                t,
                3,
                "validator-engine.cpp:2212",
                "loaded global config:\n  zero_state: (-1,8000000000000000,0)\n  init_block: (-1,8000000000000000,0)"
                "\n  validators: 4",
                thread=0,
            )
            for wc in (-1, 0):
                key = self._hash(f"key{node}")[:16].upper()
                adnl = self._hash(f"adnl{node}")[:16].upper()
                self.log(
                    node,
                    t + 5_000_000 + (wc + 1) * 800_000,
                    3,
                    "pool.cpp:341",
                    f"Validator group started. We are validator {node} at {key}… (adnl: {adnl}…) with weight 1 "
                    "out of 4",
                    actor=f"valgroup({wc},{SHARD}).0.SimplexPool",
                )
            if profile.legacy:
                self.log(node, t + 9_000_000, 4, "adnl-peer.cpp:271", "adnl peer pair created", thread=3)

    def block(self, i: int) -> None:
        rng = self.rng
        n = len(self.profiles)
        wc = -1 if i % 2 == 0 else 0
        self.seqno[wc] += 1
        seqno = self.seqno[wc]
        root, file_hash = self._hash(f"root{i}"), self._hash(f"file{i}")
        full_id = f"({wc},{SHARD},{seqno}):{root.upper()}:{file_hash.upper()}"
        leader = i % n
        others = [node for node in range(n) if node != leader]
        t0 = START_NS + 1_000_000_000 + i * BLOCK_PERIOD_NS + rng.randint(0, 50_000_000)
        size = rng.randint(6_000, 40_000) if wc == -1 else rng.randint(30_000, 600_000)
        packed = int(size * rng.uniform(0.35, 0.6))
        v2 = i % 3 == 1
        algorithm = ("ImprovedStructureLZ4", "BaselineLZ4", "ImprovedStructureLZ4WithState")[(i // 2) % 3]
        block = Block(i, wc, root, full_id, leader, others, size, v2, algorithm)

        # the candidate
        if wc == 0 and i % 4 == 1:  # produced by node2's collator node, sent to the leader first
            self._collator_candidate(t0 - 60_000_000, leader, root, size, packed)
        compress_us = self._codec_us(size, 60)
        self.benchmark(
            leader,
            t0 + compress_us * 1000,
            "serialize_candidate",
            root if not self.profiles[leader].legacy else root.upper(),
            called_from="validator_session",
            seconds_us=compress_us,
            compression="compressed",
            original=size,
            compressed=packed,
        )
        sent = t0 + compress_us * 1000
        for node in others:
            arrive = sent + rng.randint(4_000_000, 40_000_000)
            decompress_us = self._codec_us(size, 160)
            if i == SLOW_DECOMPRESSION and node == 1:
                decompress_us = 900_000
            self.benchmark(
                node,
                arrive + decompress_us * 1000,
                "deserialize_candidate",
                root if not self.profiles[node].legacy else root.upper(),
                called_from="validator_session",
                seconds_us=decompress_us,
                compression=f"compressedV2_{algorithm}" if v2 else "compressed",
                original=None,
                compressed=int(packed * 0.9) if v2 else packed,
            )
            self.log(node, arrive + 2_000_000, 3, "BusRuntime.h:207", self._event(node, "CandidateReceived", i, wc))

        self._timings(block, seqno, t0)

        # consensus
        final = t0 + rng.randint(150_000_000, 350_000_000)
        for node in range(n):
            marks = "".join("V" if rng.random() < 0.9 or v == node else "." for v in range(n))
            for vote, dt in (("notarize", -40_000_000), ("finalize", 0)):
                self.log(
                    node,
                    final + dt + rng.randint(0, 5_000_000),
                    2,
                    "pool.cpp:919",
                    f"Obtained certificate for {vote}(slot={i}): {marks}",
                    actor=f"valgroup({wc},{SHARD}).0.SimplexPool",
                )
            self.log(node, final + 6_000_000, 3, "BusRuntime.h:207", self._event(node, "BlockFinalized", i, wc))

        # the block broadcast, on the public overlay, and on the fast-sync or a custom overlay for some blocks
        overlays = ["public"] + (["fast-sync"] if wc == -1 else []) + (["custom"] if i % 5 == 3 else [])
        for overlay in overlays:
            self._broadcast(block, final + 10_000_000, overlay)
        if wc == 0:
            self._candidate_broadcast(block, final + 20_000_000)
        if i % 4 == 3:  # a node that fell behind fetches the whole block
            lagging = 2 if i == SLOW_FULL_FETCH else (leader + 2) % n
            delay = 2_300_000_000 if i == SLOW_FULL_FETCH else rng.randint(300_000_000, 600_000_000)
            self._full_block(block, final + delay, (lagging + 1) % n, lagging)
            if i == SLOW_FULL_FETCH:
                self.log(
                    lagging,
                    final + delay - 200_000_000,
                    1,
                    "full-node-shard.cpp:1011",
                    f"failed to download block {full_id[:40]}…: [Error : 652 : adnl query timeout]",
                    actor="FullNodeShard",
                )

        if i % 3 == 0:
            quiet = t0 + rng.randint(0, 600_000_000)
            for node in range(n):
                self.log(node, quiet, 3, "quic-server.cpp:752", "connection closed after ingress error", tag="quic")
        if self.profiles[3].legacy and n > 3:
            self.log(3, t0 + 100_000_000, 4, "adnl-peer.cpp:388", f"received query of {size // 100} bytes", thread=3)

    def _timings(self, block: Block, seqno: int, t0: int) -> None:
        """The leader's `collation took X s` (collator.cpp:6486, LOG(WARNING), always written) and every other
        node's `validation took Xs` (validate-query.cpp:7676, no space before the s), from the actors
        `collate(wc,shard):seqno` and `validateblock(wc,shard):seqno#k` (fabric.cpp:187-205); every 4th block the
        leader's first attempt fails (`collation failed in X s <td::Status>`, collator.cpp:366, LOG(INFO)). Times
        are td's fixed 6 decimals. Upstream ton-blockchain/ton ca7d6e45."""
        rng, wc, leader = self.timing_rng, block.workchain, block.leader
        shard = f"({wc},{SHARD})"
        slow = 0.3 if wc == 0 else 0.0  # the basechain waits for external messages
        collator = f"collate{shard}:{seqno}"
        if block.i % 4 == 2:
            failed = rng.uniform(0.01, 0.2)
            error = ("[Error : 652 : timeout]", "[Error : -666 : cannot merge shards]")[block.i // 4 % 2]
            message = f"collation failed in {failed:.6f} s {error}"
            self.log(leader, t0 - 250_000_000, 3, "collator.cpp:366", message, actor=collator, rng=rng)
        took = slow + rng.uniform(0.002, 0.09)
        self.log(leader, t0, 2, "collator.cpp:6486", f"collation took {took:.6f} s", actor=collator, rng=rng)
        for k, node in enumerate(block.others):
            validated = rng.uniform(0.003, 0.12)
            at, message = t0 + 60_000_000 + int(validated * 1e9), f"validation took {validated:.6f}s"
            actor = f"validateblock{shard}:{seqno}#{k}"
            self.log(node, at, 2, "validate-query.cpp:7676", message, actor=actor, rng=rng)

    def _collator_candidate(self, t: int, leader: int, root: str, size: int, packed: int) -> None:
        collator = 1
        us = self._codec_us(size, 60)
        self.benchmark(
            collator,
            t + us * 1000,
            "serialize_candidate",
            root,
            called_from="collator_node",
            seconds_us=us,
            compression="compressed",
            original=size,
            compressed=packed,
        )
        us2 = self._codec_us(size, 160)
        self.benchmark(
            leader,
            t + us * 1000 + 9_000_000 + us2 * 1000,
            "deserialize_candidate",
            root,
            called_from="collator_node",
            seconds_us=us2,
            compression="compressed",
            original=None,
            compressed=packed,
        )

    def _broadcast(self, block: Block, t: int, overlay: str) -> None:
        rng, i, algorithm = self.rng, block.i, block.algorithm
        original = block.size + int(block.size * 0.15) + 96 * 3  # data, proof and three signatures
        if overlay == "public" and (block.v2 or i % 3 == 2):
            sent_as, received_as, packed = f"compressedV2{algorithm}", f"compressedV2_{algorithm}", 0.45
        elif overlay == "custom":
            sent_as, received_as, packed = "compressed", "none", 0.55
        else:
            sent_as, received_as, packed = "compressed", "compressed", 0.55
        wire = int(original * packed)
        us = self._codec_us(original, 50)
        sent = t + us * 1000
        self.benchmark(
            block.leader,
            sent,
            "serialize_block_broadcast",
            block.full_id,
            called_from=overlay,
            seconds_us=us,
            compression=sent_as,
            original=original,
            compressed=wire,
        )
        receivers = block.others if overlay == "public" else block.others[:2]
        for node in receivers:
            arrive = sent + rng.randint(5_000_000, 60_000_000)
            if i == SLOW_BROADCAST and node == 2 and overlay == "public":
                arrive += 1_400_000_000
            decompress_us = self._codec_us(original, 140) if received_as != "none" else rng.randint(20, 90)
            self.benchmark(
                node,
                arrive + decompress_us * 1000,
                "deserialize_block_broadcast",
                block.full_id,
                called_from=overlay,
                seconds_us=decompress_us,
                compression=received_as,
                original=None,
                compressed=original if received_as == "none" else wire,
            )

    def _candidate_broadcast(self, block: Block, t: int) -> None:
        rng, i, size = self.rng, block.i, block.size
        overlay = ("public", "fast-sync", "custom")[i % 3]
        compression = "none" if i % 4 == 1 else "compressed"
        wire = size if compression == "none" else int(size * 0.5)
        us = self._codec_us(size, 60) if compression != "none" else rng.randint(10, 60)
        self.benchmark(
            block.leader,
            t + us * 1000,
            "serialize_block_candidate_broadcast",
            block.full_id,
            called_from=overlay,
            seconds_us=us,
            compression=compression,
            original=size,
            compressed=wire,
        )
        received = {"none": "none", "compressed": "compressed"}[compression]
        for k, node in enumerate(block.others):
            as_received = f"compressedV2_{'BaselineLZ4'}" if (k == 0 and i % 4 == 3) else received
            arrive = t + us * 1000 + rng.randint(5_000_000, 50_000_000)
            d_us = self._codec_us(size, 150) if as_received != "none" else rng.randint(10, 60)
            self.benchmark(
                node,
                arrive + d_us * 1000,
                "deserialize_block_candidate_broadcast",
                block.full_id,
                called_from=overlay,
                seconds_us=d_us,
                compression=as_received,
                original=None,
                compressed=int(wire * 0.92) if as_received.startswith("compressedV2") else wire,
            )

    def _full_block(self, block: Block, t: int, sender: int, receiver: int) -> None:
        i, size = block.i, block.size
        compression = "compressed" if i % 8 == 3 else "none"
        wire = int(size * 0.5) if compression == "compressed" else size
        us = self._codec_us(size, 60) if compression == "compressed" else self.rng.randint(10, 60)
        self.benchmark(
            sender,
            t + us * 1000,
            "serialize_block_full",
            block.full_id,
            called_from=None,
            seconds_us=us,
            compression=compression,
            original=size,
            compressed=wire,
        )
        received = "compressedV2_BaselineLZ4" if i % 8 == 7 else compression
        d_us = self._codec_us(size, 150) if received != "none" else self.rng.randint(10, 60)
        arrive = t + us * 1000 + self.rng.randint(20_000_000, 90_000_000)
        self.benchmark(
            receiver,
            arrive + d_us * 1000,
            "deserialize_block_full",
            block.full_id,
            called_from=None,
            seconds_us=d_us,
            compression=received,
            original=None,
            compressed=int(wire * 0.9) if received.startswith("compressedV2") else wire,
        )

    def _codec_us(self, size: int, mb_per_s: float) -> int:
        """Microseconds to (de)compress `size` bytes at about `mb_per_s` MB/s."""
        return max(8, int(size / mb_per_s * self.rng.uniform(0.7, 1.5)))

    def _event(self, node: int, kind: str, i: int, wc: int) -> str:
        bus = f"on {GRAY}consensus{RESET} bus" if self.profiles[node].layout == "stderr" else "on consensus bus"
        return f"Published event {kind}{{slot={i}, workchain={wc}}} {bus}"

    def _hash(self, what: str) -> str:
        return hashlib.sha256(f"{self.seed}:{what}".encode()).hexdigest()

    # --- output

    def drain(self, before_ns: int | None = None) -> Iterator[Entry]:
        while self.heap and (before_ns is None or self.heap[0].written_ns < before_ns):
            yield heapq.heappop(self.heap)


def _site(op: str, compression: str, called_from: str | None, legacy: bool) -> tuple[str, str]:
    """Source site and comment of a benchmark line (ton-formats.md §8.1-8.2)."""
    if op.endswith("candidate_data"):
        return "candidate-serializer.cpp:105", ""
    if called_from == "collator_node":
        return "utils.cpp:48", "COLLATOR_NODE_BENCHMARK"
    if op.endswith("_candidate"):
        line = 40 if op.startswith("serialize") else 67 if compression.startswith("compressedV2") else 60
        return f"payload.cpp:{line}", "" if legacy else "VALIDATOR_SESSION_BENCHMARK"
    lines = {
        "serialize_block_broadcast": (54, 84),
        "deserialize_block_broadcast": (122, 198),
        "serialize_block_full": (229, 244),
        "deserialize_block_full": (279, 302),
        "serialize_block_candidate_broadcast": (339, 354),
        "deserialize_block_candidate_broadcast": (387, 411),
    }[op]
    line = lines[1] if compression.startswith("compressedV2") else lines[0]
    if compression == "none" and op.startswith("deserialize"):
        line = {"deserialize_block_broadcast": 101, "deserialize_block_full": 263}.get(op, 370)
    return f"full-node-serializer.cpp:{line}", "" if legacy else "WARNING"


def _actor(op: str, called_from: str | None) -> str:
    if op.endswith(("_candidate", "candidate_data")):
        return "PrivateOverlay" if called_from != "collator_node" else "CollatorNode"
    return {"fast-sync": "FullNodeFastSyncOverlay", "custom": "FullNodeCustomOverlay"}.get(
        called_from or "", "FullNodeShard"
    )


def render(entry: Entry, profile: Profile) -> bytes:
    seconds, ns = divmod(entry.time_ns, 10**9)
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds))
    fraction = f"{ns:09d}" if profile.digits == 9 else f"{ns // 1000:06d}"
    thread = f"t{entry.thread:2d}"
    text = f"[{entry.level:2d}][{thread}][{stamp}.{fraction}][{entry.site}]{entry.extras}\t{entry.message}"
    if profile.layout != "stderr":
        return text.replace(GRAY, "").replace(RESET, "").encode() + b"\n"
    return COLOURS.get(entry.level, b"") + text.encode() + RESET.encode() + b"\n"


def file_for(profile: Profile, thread: int) -> str:
    if profile.layout == "threads" and thread != 0:
        return f"log.thread{thread}.log"
    return "log"


def generate(directory: Path, *, blocks: int = 10, seed: int = 5, only: set[str] | None = None) -> list[Path]:
    """Write the logs of `blocks` blocks under `directory`/node<N>/; return the files written."""
    network = Network(seed)
    handles: dict[tuple[int, str], IO[bytes]] = {}
    wanted = [only is None or p.name in only for p in network.profiles]

    def write(entries: Iterator[Entry]) -> None:
        for entry in entries:
            if not wanted[entry.node]:
                continue
            profile = network.profiles[entry.node]
            key = (entry.node, file_for(profile, entry.thread))
            handle = handles.get(key)
            if handle is None:
                path = directory / profile.name / key[1]
                path.parent.mkdir(parents=True, exist_ok=True)
                handle = handles[key] = open(path, "wb")  # noqa: SIM115
            handle.write(render(entry, profile))

    try:
        network.start()
        for i in range(blocks):
            network.block(i)
            write(network.drain(START_NS + i * BLOCK_PERIOD_NS - FLUSH_LAG_NS))
        write(network.drain())
    finally:
        for handle in handles.values():
            handle.close()
    return sorted(directory / network.profiles[node].name / name for node, name in handles)


def main() -> None:
    parser = argparse.ArgumentParser(description="Write SYNTHETIC td text logs of a 4-node network.")
    parser.add_argument("directory", type=Path)
    parser.add_argument("--blocks", type=int, default=10)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--nodes", default="", help="comma-separated node names to write (default: all)")
    args = parser.parse_args()
    only = set(args.nodes.split(",")) if args.nodes else None
    for path in generate(args.directory, blocks=args.blocks, seed=args.seed, only=only):
        print(path)


if __name__ == "__main__":
    main()
