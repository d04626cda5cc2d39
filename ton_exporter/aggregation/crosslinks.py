"""Shard/master accept latencies (CON-21, CON-22): reconstructions joining a run's block structure with each
node's accept times.

* shard→master (CON-21): a masterchain block M's accept time - the accept time of each shard block M newly
  includes. M newly includes, per shard, the seqnos in (top at M-1, top at M] of the masterchain rows'
  `block_stats.shard_configuration` (ton-formats.md §5 "crosslinks"); a shard missing at M-1 (a split or merge)
  has no "newly" and is left out, as is an M whose M-1 row was not read.
* master→shard (CON-22): a shard block S's accept time - the accept time of `block_stats.mc_block_id` of S's row
  (the masterchain block its collation is based on).

Accept times: `consensus.stats.blockAccepted{id}` joined, within one node's session, to the block that node's
`candidateReceived` named for the same (session, slot, hash); an empty candidate names no block and is never
accepted. Both times of a pair are the *same node's* accept times, so no two machines' clocks are compared: each
node reading the pair observes it once, in its own `node` series. The structure (which rows say what) is shared
by the run: a collated row exists only on the node that collated the block, so one node's file alone gives the
pairs whose rows it collated, and central mode (one exporter reading every node's file) gives every pair to every
node. A pair with a negative difference (a node accepting the later block first) is counted in `negative`, not
observed.

An observation is made once, when its last piece arrives (a row or an accept, in whatever order the files are
read). Memory is bounded: the newest MAX_BLOCKS accepted blocks per node and structure rows per run are kept,
older ones are forgotten (a pair that completes later than that is not observed). The histograms and counts are
saved in the checkpoint; the structure and accept times are not (a pair whose pieces straddle a restart is lost).
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ton_exporter.aggregation.buckets import LATENCY_BUCKETS
from ton_exporter.aggregation.distribution import Distribution
from ton_exporter.aggregation.limits import DEFAULT_MAX_SHARDS_PER_NODE
from ton_exporter.aggregation.series_bounds import OVERFLOW
from ton_exporter.parsers import consensus_events as ce
from ton_exporter.parsers.errors import RecordError
from ton_exporter.parsers.shard_ids import ShardRules

MAX_BLOCKS = 4096  # per node (accepts) and per run (rows): at 2.5 blocks/s, half an hour
MASTERCHAIN = -1
SHARD_TO_MASTER = "shard_to_master"
MASTER_TO_SHARD = "master_to_shard"
KINDS = (SHARD_TO_MASTER, MASTER_TO_SHARD)

# Both latencies are block accept intervals clustering near the slot time (0.34 s and 0.44 s on the real data):
# the block-latency layout, with its 10 ms grid around 0.4 s (buckets.py).
LINK_BUCKETS = LATENCY_BUCKETS

Shard = tuple[int, str]  # (workchain, shard as written)
Block = tuple[int, str, int]  # (workchain, shard, seqno)


def _block(block_id: Any) -> Block:
    return int(block_id["workchain"]), str(block_id["shard"]), int(block_id["seqno"])


def _bounded_put(d: dict[Any, Any], key: Any, value: Any) -> None:
    d.pop(key, None)  # re-inserted at the end: the newest
    d[key] = value
    if len(d) > MAX_BLOCKS:
        del d[next(iter(d))]


@dataclass
class NodeLinks:
    """One node's accept times and its two histograms per shard-block (workchain, shard) label pair."""

    candidates: dict[tuple[object, object, object], Block] = field(default_factory=dict)
    accepted: dict[Block, float] = field(default_factory=dict)
    latencies: dict[tuple[str, str, str], Distribution] = field(default_factory=dict)  # (kind, wc, shard)
    negative: Counter[str] = field(default_factory=Counter)

    def observe(self, kind: str, labels: tuple[str, str], seconds: float) -> None:
        if seconds < 0:
            self.negative[kind] += 1
            return
        key = (kind, *labels)
        d = self.latencies.get(key)
        if d is None:
            d = self.latencies[key] = Distribution(LINK_BUCKETS)
        d.observe(seconds)


@dataclass
class BlockLinks:
    """A run's block structure (from every node's collated rows) and every node's accept times."""

    tops: dict[int, dict[Shard, int]] = field(default_factory=dict)  # masterchain seqno -> shard tops
    included_in: dict[Block, int] = field(default_factory=dict)  # shard block -> masterchain seqno newly including
    includes: dict[int, list[Block]] = field(default_factory=dict)
    based_on: dict[Block, int] = field(default_factory=dict)  # shard block -> masterchain seqno of its mc_block_id
    bases: dict[int, list[Block]] = field(default_factory=dict)
    labels: dict[Shard, tuple[str, str]] = field(default_factory=dict)  # checked label values of shard blocks
    nodes: dict[str, NodeLinks] = field(default_factory=dict)
    master_shard: str = "-9223372036854775808"

    def node(self, name: str) -> NodeLinks:
        found = self.nodes.get(name)
        if found is None:
            found = self.nodes[name] = NodeLinks()
        return found

    # --- structure, from a collated row (already accepted by the row parser)

    def collated(self, record: dict[str, Any], rules: ShardRules) -> None:
        stats = record.get("block_stats")
        if not isinstance(stats, dict):
            return
        try:
            block = _block(record["block_id"])
            if block[0] == MASTERCHAIN:
                configuration = stats.get("shard_configuration")
                if isinstance(configuration, list):
                    self.master_shard = block[1]
                    tops = {}
                    for top in configuration:
                        wc, shard, seqno = _block(top)
                        tops[(wc, shard)] = seqno
                        self._label((wc, shard), rules)
                    self._master_tops(block[2], tops)
            else:
                base = stats.get("mc_block_id")
                if isinstance(base, dict):
                    self._label(block[:2], rules)
                    self._based_on(block, _block(base)[2])
        except (KeyError, TypeError, ValueError, RecordError):
            return  # a row without a usable structure: the row itself was counted by the row parser

    def _label(self, shard: Shard, rules: ShardRules) -> None:
        if shard not in self.labels:
            workchain, label = rules.labels(*shard)  # RecordError for a bad one: the row's structure is not used
            if len(self.labels) >= DEFAULT_MAX_SHARDS_PER_NODE:  # the shard cap of the node series, per run here
                label = OVERFLOW
            self.labels[shard] = (workchain, label)

    def _master_tops(self, seqno: int, tops: dict[Shard, int]) -> None:
        if self.tops.get(seqno) == tops:
            return  # the same row again (another node's copy): nothing new to join
        _bounded_put(self.tops, seqno, tops)
        for mc in (seqno, seqno + 1):
            before, now = self.tops.get(mc - 1), self.tops.get(mc)
            if before is None or now is None or mc in self.includes:
                continue
            new = [
                (wc, shard, s)
                for (wc, shard), top in now.items()
                if (wc, shard) in before
                for s in range(before[(wc, shard)] + 1, top + 1)
            ]
            _bounded_put(self.includes, mc, new)
            for block in new:
                _bounded_put(self.included_in, block, mc)
                self._join_all(SHARD_TO_MASTER, (MASTERCHAIN, self.master_shard, mc), block)

    def _based_on(self, block: Block, mc: int) -> None:
        if self.based_on.get(block) == mc:
            return
        _bounded_put(self.based_on, block, mc)
        self.bases.setdefault(mc, []).append(block)
        if len(self.bases) > MAX_BLOCKS:
            del self.bases[next(iter(self.bases))]
        self._join_all(MASTER_TO_SHARD, block, (MASTERCHAIN, self.master_shard, mc))

    def _join_all(self, kind: str, later: Block, earlier: Block) -> None:
        shard_block = earlier if kind == SHARD_TO_MASTER else later
        for links in self.nodes.values():
            self._join(links, kind, later, earlier, shard_block)

    def _join(self, links: NodeLinks, kind: str, later: Block, earlier: Block, shard_block: Block) -> None:
        t_later, t_earlier = links.accepted.get(later), links.accepted.get(earlier)
        if t_later is not None and t_earlier is not None:
            links.observe(kind, self.labels[shard_block[:2]], t_later - t_earlier)

    # --- accept times, from one node's consensus batch (malformed events are the consensus path's to count)

    def events(self, node: str, record: dict[str, Any]) -> None:
        links = self.node(node)
        session = record.get("id")
        events = record.get("events")
        if not isinstance(events, list):
            return
        for item in events:
            try:
                event = item["event"]
                kind = event["@type"]
                if kind == ce.CANDIDATE_RECEIVED:
                    block = event["block"]
                    if "id" in block:  # consensus.stats.block; consensus.stats.empty names none
                        key = (session, event["id"]["slot"], event["id"]["hash"])
                        _bounded_put(links.candidates, key, _block(block["id"]))
                elif kind == ce.BLOCK_ACCEPTED:
                    found = links.candidates.get((session, event["id"]["slot"], event["id"]["hash"]))
                    if found is not None:
                        self._accepted(links, found, float(item["ts"]))
            except (KeyError, TypeError, ValueError):
                continue

    def _accepted(self, links: NodeLinks, block: Block, at: float) -> None:
        _bounded_put(links.accepted, block, at)
        wc, _, seqno = block
        if wc == MASTERCHAIN:
            for included in self.includes.get(seqno, ()):
                self._join(links, SHARD_TO_MASTER, block, included, included)
            for based in self.bases.get(seqno, ()):
                self._join(links, MASTER_TO_SHARD, based, block, based)
        else:
            mc = self.included_in.get(block)
            if mc is not None:
                self._join(links, SHARD_TO_MASTER, (MASTERCHAIN, self.master_shard, mc), block, block)
            mc = self.based_on.get(block)
            if mc is not None:
                self._join(links, MASTER_TO_SHARD, block, (MASTERCHAIN, self.master_shard, mc), block)

    # --- checkpoint: the cumulative figures only

    def to_json(self) -> dict[str, Any]:
        return {
            name: {
                "latencies": [[*key, d.to_json()] for key, d in links.latencies.items()],
                "negative": dict(links.negative),
            }
            for name, links in self.nodes.items()
        }

    def restore(self, data: dict[str, Any]) -> None:
        for name, saved in data.items():
            links = self.node(name)
            for kind, wc, shard, distribution in saved.get("latencies", []):
                d = links.latencies[(str(kind), str(wc), str(shard))] = Distribution(LINK_BUCKETS)
                d.restore(distribution)
            links.negative.update({str(k): int(v) for k, v in saved.get("negative", {}).items()})
