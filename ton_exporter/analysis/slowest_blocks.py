"""`ton-exporter slowest-blocks`: which blocks took longest to broadcast, from the text logs of many nodes.

What the old slowest-blocks tool computed (ton-formats.md §8.4), from the `Broadcast_benchmark` lines of every node:

* a record per line: node, end (the line's time), start (end - time_sec), block, stage (compress, decompress),
  type, called_from, compression, sizes;
* records are grouped by block: candidates are logged by root hash, blocks as `(wc,shard,seqno):ROOT:FILE`, so the
  root hash is the key and a candidate and its block are one block;
* a block's broadcast time is its first compression start to its last decompression end, over all nodes and
  types; blocks are ranked by it (a block without both stages in the logs read is not ranked, only counted);
* per block and (type, called_from), the same span, how many nodes compressed and decompressed it, and how long
  that took; per (type, called_from) over all blocks: sizes, space saved, broadcast times (to the last, the
  average and the 66th-percentile decompression end, nearest rank) and (de)compression times;
* its *signature*: the op/compression combinations it went through, and how many blocks share each signature.

Inputs are files, globs or directories (compressed files too), `NODE=` naming a node as for `serve`; the node of
a file is found as `serve` finds it (tontester `node<N>/log`, `-l` thread files).
"""

import csv
import gzip
import io
import json
import math
import os
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import click

from ton_exporter.parsers import broadcast_benchmark as bb
from ton_exporter.parsers.td_prefix import PREFIX, parse_timestamp, strip_colour
from ton_exporter.sources.discovery import SourcePattern, is_compressed, stream_name
from ton_exporter.sources.node_names import node_name_for

READ_SIZE = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    node: str
    end: float
    seconds: float
    block: str  # the root hash, lower case
    block_id: str  # as logged
    op: str
    called_from: str
    compression: str
    original_size: int | None
    compressed_size: int

    @property
    def start(self) -> float:
        return self.end - self.seconds

    @property
    def stage(self) -> str:
        return bb.stage_of(self.op)

    @property
    def type(self) -> str:
        return self.op.partition("_")[2]


@dataclass
class Inputs:
    """What was read."""

    files: list[str] = field(default_factory=list)
    nodes: set[str] = field(default_factory=set)
    bytes: int = 0
    benchmark_lines: int = 0
    malformed: int = 0


# --- reading


def files_of(patterns: Iterable[SourcePattern], node_for: Callable[[str], str]) -> list[tuple[str, str]]:
    """(path, node) of every file the patterns match, rotated copies and thread files included."""
    found: dict[str, str] = {}
    for pattern in patterns:
        for path in pattern.candidates():
            found.setdefault(path, pattern.node or node_for(stream_name(path)))
    return sorted(found.items())


def read(
    files: list[tuple[str, str]], inputs: Inputs, progress: Callable[[int], None] = lambda _: None
) -> list[Record]:
    records: list[Record] = []
    for path, node in files:
        inputs.files.append(path)
        inputs.nodes.add(node)
        with _open(path) as f:
            partial = b""
            while data := f.read(READ_SIZE):
                inputs.bytes += len(data)
                progress(len(data))
                block = partial + data
                end = block.rfind(b"\n") + 1
                partial = block[end:]
                records.extend(_records_in(block[:end], node, inputs))
            records.extend(_records_in(partial, node, inputs))
    return records


def _open(path: str) -> IO[bytes]:
    if is_compressed(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")


def _records_in(block: bytes, node: str, inputs: Inputs) -> Iterator[Record]:
    """The benchmark records of a block of whole lines; only lines that mention the marker are parsed."""
    position = 0
    while (found := block.find(bb.MARKER, position)) >= 0:
        start = block.rfind(b"\n", 0, found) + 1
        end = block.find(b"\n", found)
        end = len(block) if end < 0 else end
        position = end
        line = strip_colour(block[start:end])
        match = PREFIX.match(line)
        if match is None or not line.startswith(bb.MARKER, match.end()):
            continue  # the marker inside some other message
        inputs.benchmark_lines += 1
        try:
            b = bb.parse(line[match.end() :])
        except bb.BenchmarkError:
            inputs.malformed += 1
            continue
        yield Record(
            node=node,
            end=parse_timestamp(match.group(3)),
            seconds=b.time_sec,
            block=bb.block_key(b.block_id),
            block_id=b.block_id,
            op=b.op,
            called_from=b.called_from or "none",
            compression=bb.normalise_compression(b.compression),
            original_size=b.original_size,
            compressed_size=b.compressed_size,
        )


# --- analysis


@dataclass
class Stage:
    """One block's records of one (type, called_from)."""

    type: str
    called_from: str
    compressions: list[Record]
    decompressions: list[Record]

    @property
    def first_start(self) -> float | None:
        return min((r.start for r in self.compressions), default=None)

    @property
    def last_end(self) -> float | None:
        return max((r.end for r in self.decompressions), default=None)

    @property
    def span(self) -> float | None:
        first, last = self.first_start, self.last_end
        return last - first if first is not None and last is not None else None

    def to_json(self, block_start: float | None) -> dict[str, Any]:
        """`block_start`: the block's first compression start, which the offsets count from (where its time went)."""
        last = max(self.decompressions, key=lambda r: r.end, default=None)
        original = max((r.original_size or 0 for r in self.compressions), default=0)
        return {
            "type": self.type,
            "called_from": self.called_from,
            "compressions": len(self.compressions),
            "decompressions": len(self.decompressions),
            "first_start": _iso(self.first_start),
            "last_end": _iso(self.last_end),
            "span_seconds": _round(self.span),
            "start_offset_seconds": _round(_offset(self.first_start, block_start)),
            "end_offset_seconds": _round(_offset(self.last_end, block_start)),
            "compress_seconds": _round(max((r.seconds for r in self.compressions), default=None)),
            "decompress_seconds_avg": _round(_mean([r.seconds for r in self.decompressions])),
            "decompress_seconds_max": _round(max((r.seconds for r in self.decompressions), default=None)),
            "original_bytes": original or None,
            "compressed_bytes": max((r.compressed_size for r in self.compressions), default=None),
            "last_node": last.node if last else None,
        }


@dataclass
class Block:
    key: str
    records: list[Record]

    @property
    def block_id(self) -> str:
        """The most telling id logged: `(wc,shard,seqno):ROOT:FILE` if a block op logged it, else the root hash."""
        return max((r.block_id for r in self.records), key=lambda i: (i.startswith("("), len(i)))

    @property
    def first_start(self) -> float | None:
        return min((r.start for r in self.records if r.stage == "compress"), default=None)

    @property
    def last_end(self) -> float | None:
        return max((r.end for r in self.records if r.stage == "decompress"), default=None)

    @property
    def span(self) -> float | None:
        first, last = self.first_start, self.last_end
        return last - first if first is not None and last is not None else None

    @property
    def signature(self) -> str:
        return " + ".join(sorted({f"{r.op}/{r.compression}" for r in self.records}))

    def stages(self) -> list[Stage]:
        groups: dict[tuple[str, str], Stage] = {}
        for r in sorted(self.records, key=lambda r: r.end):
            stage = groups.get((r.type, r.called_from))
            if stage is None:
                stage = groups[(r.type, r.called_from)] = Stage(r.type, r.called_from, [], [])
            (stage.compressions if r.stage == "compress" else stage.decompressions).append(r)
        return sorted(groups.values(), key=lambda s: (s.first_start or math.inf, s.type, s.called_from))


@dataclass
class Report:
    inputs: Inputs
    blocks: list[Block]  # every block, slowest first; those without a span last
    top: int

    @property
    def ranked(self) -> list[Block]:
        return [b for b in self.blocks if b.span is not None]

    def signatures(self) -> list[tuple[str, int]]:
        counts = Counter(b.signature for b in self.blocks)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    def by_type(self) -> list[dict[str, Any]]:
        """Per (type, called_from), over the blocks that went through both stages of it."""
        stages: dict[tuple[str, str], list[Stage]] = defaultdict(list)
        for block in self.blocks:
            for stage in block.stages():
                stages[(stage.type, stage.called_from)].append(stage)
        rows = []
        for (kind, called_from), group in sorted(stages.items()):
            complete = [s for s in group if s.span is not None]
            compressions = [r for s in group for r in s.compressions]
            sized = [r for r in compressions if r.original_size]
            original = sum(r.original_size or 0 for r in sized)
            compressed = sum(r.compressed_size for r in sized)
            rows.append(
                {
                    "type": kind,
                    "called_from": called_from,
                    "blocks": len(group),
                    "blocks_with_both_stages": len(complete),
                    "original_bytes_avg": _round(original / len(sized), 1) if sized else None,
                    "compressed_bytes_avg": _round(compressed / len(sized), 1) if sized else None,
                    "space_saved_ratio": _round(1 - compressed / original, 4) if original else None,
                    "broadcast_seconds_last_avg": _round(_mean([s.span or 0.0 for s in complete])),
                    "broadcast_seconds_mean_avg": _round(_mean([_to_end(s, _mean) for s in complete])),
                    "broadcast_seconds_p66_avg": _round(_mean([_to_end(s, _p66) for s in complete])),
                    "broadcast_seconds_last_max": _round(max((s.span or 0.0 for s in complete), default=None)),
                    "compress_seconds_avg": _round(_mean([r.seconds for r in compressions])),
                    "decompress_seconds_avg": _round(_mean([r.seconds for s in group for r in s.decompressions])),
                }
            )
        return rows

    def to_json(self) -> dict[str, Any]:
        inputs = self.inputs
        return {
            "inputs": {
                "files": inputs.files,
                "nodes": sorted(inputs.nodes),
                "bytes": inputs.bytes,
                "benchmark_lines": inputs.benchmark_lines,
                "malformed_lines": inputs.malformed,
            },
            "blocks": len(self.blocks),
            "ranked_blocks": len(self.ranked),
            "slowest": [
                {
                    "rank": rank,
                    "block_id": block.block_id,
                    "span_seconds": _round(block.span),
                    "first_start": _iso(block.first_start),
                    "last_end": _iso(block.last_end),
                    "nodes": sorted({r.node for r in block.records}),
                    "records": len(block.records),
                    "signature": block.signature,
                    "stages": [stage.to_json(block.first_start) for stage in block.stages()],
                }
                for rank, block in enumerate(self.ranked[: self.top], 1)
            ],
            "by_type": self.by_type(),
            "signatures": [{"signature": s, "blocks": n} for s, n in self.signatures()],
        }


def analyse(records: list[Record], inputs: Inputs, top: int) -> Report:
    grouped: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        grouped[record.block].append(record)
    blocks = [Block(key, rs) for key, rs in grouped.items()]
    blocks.sort(key=lambda b: (-(b.span if b.span is not None else -math.inf), b.first_start or math.inf, b.key))
    return Report(inputs, blocks, top)


def _offset(t: float | None, start: float | None) -> float | None:
    return t - start if t is not None and start is not None else None


def _to_end(stage: Stage, statistic: Callable[[list[float]], float | None]) -> float:
    first = stage.first_start or 0.0
    return (statistic([r.end for r in stage.decompressions]) or first) - first


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _p66(values: list[float]) -> float | None:
    """Nearest rank: the smallest value with at least 66% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.66 * len(ordered)) - 1)]


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def _iso(t: float | None) -> str | None:
    if t is None:
        return None
    seconds = math.floor(t)
    micros = round((t - seconds) * 1e6)
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{micros:06d}Z"


# --- output

CSV_COLUMNS = (
    "rank",
    "block_id",
    "block_span_seconds",
    "block_first_start",
    "block_last_end",
    "type",
    "called_from",
    "compressions",
    "decompressions",
    "span_seconds",
    "start_offset_seconds",
    "end_offset_seconds",
    "compress_seconds",
    "decompress_seconds_avg",
    "decompress_seconds_max",
    "original_bytes",
    "compressed_bytes",
    "last_node",
    "signature",
)


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2) + "\n"


def render_csv(report: Report) -> str:
    """The slowest blocks, one row per block and (type, called_from)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for block in report.to_json()["slowest"]:
        for stage in block["stages"]:
            writer.writerow(
                {
                    "rank": block["rank"],
                    "block_id": block["block_id"],
                    "block_span_seconds": block["span_seconds"],
                    "block_first_start": block["first_start"],
                    "block_last_end": block["last_end"],
                    **{k: v for k, v in stage.items() if k in CSV_COLUMNS},
                    "signature": block["signature"],
                }
            )
    return out.getvalue()


def render_table(report: Report) -> str:
    data = report.to_json()
    inputs = data["inputs"]
    signature_ids = {s["signature"]: f"S{i}" for i, s in enumerate(data["signatures"], 1)}
    out = [
        f"{len(inputs['files'])} files of {len(inputs['nodes'])} nodes, {_size(inputs['bytes'])}: "
        f"{inputs['benchmark_lines']} Broadcast_benchmark lines ({inputs['malformed_lines']} malformed), "
        f"{data['blocks']} blocks, {data['ranked_blocks']} with both stages",
        "",
        f"Slowest blocks: first compression start to last decompression end (top {report.top})",
    ]
    rows = [("rank", "block", "span", "first start (UTC)", "nodes", "signature")]
    for block in data["slowest"]:
        rows.append(
            (
                str(block["rank"]),
                _short_id(block["block_id"]),
                _ms(block["span_seconds"]),
                (block["first_start"] or "")[:-1].replace("T", " "),
                str(len(block["nodes"])),
                signature_ids[block["signature"]],
            )
        )
    out += _columns(rows)
    out += [
        "",
        "Where each block's time went, per stage: start + and end + are its first compression start",
        "and last decompression end, counted from the block's first compression start.",
    ]
    for block in data["slowest"]:
        out += ["", f"#{block['rank']} {block['block_id']}"]
        stage_rows = [
            ("type", "called_from", "comp", "decomp", "start +", "end +", "compress", "decompress avg/max", "last")
        ]
        for s in block["stages"]:
            stage_rows.append(
                (
                    s["type"],
                    s["called_from"],
                    str(s["compressions"]),
                    str(s["decompressions"]),
                    _ms(s["start_offset_seconds"]),
                    _ms(s["end_offset_seconds"]),
                    _ms(s["compress_seconds"]),
                    f"{_ms(s['decompress_seconds_avg'])} / {_ms(s['decompress_seconds_max'])}",
                    s["last_node"] or "-",
                )
            )
        out += ["  " + line for line in _columns(stage_rows)]
    out += ["", "By type and called_from (broadcast: first compression start to the last / 66th pct decompression end)"]
    type_rows = [("type", "called_from", "blocks", "original", "saved", "last avg", "p66 avg", "compress", "decomp")]
    for row in data["by_type"]:
        saved = row["space_saved_ratio"]
        type_rows.append(
            (
                row["type"],
                row["called_from"],
                f"{row['blocks_with_both_stages']}/{row['blocks']}",
                _size(row["original_bytes_avg"]) if row["original_bytes_avg"] is not None else "-",
                f"{saved * 100:.1f}%" if saved is not None else "-",
                _ms(row["broadcast_seconds_last_avg"]),
                _ms(row["broadcast_seconds_p66_avg"]),
                _ms(row["compress_seconds_avg"]),
                _ms(row["decompress_seconds_avg"]),
            )
        )
    out += _columns(type_rows)
    out += ["", "Signatures (the ops a block went through, each with its compressions)"]
    for s in data["signatures"]:
        out.append(f"{signature_ids[s['signature']]:>4}  {s['blocks']} block{'s' if s['blocks'] != 1 else ''}")
        out += _signature_lines(s["signature"])
    return "\n".join(out) + "\n"


WIDTH = 80  # a terminal's columns: the signatures are wrapped to fit


def _signature_lines(signature: str) -> list[str]:
    """One line per op with its compressions, `op  c1, c2`; where that is wider than WIDTH, the compressions go
    on lines of their own below the op. No combination is longer than an op and a compression name (< 80)."""
    by_op: dict[str, list[str]] = defaultdict(list)
    for combination in signature.split(" + "):
        op, _, compression = combination.partition("/")
        by_op[op].append(compression)
    width = max(len(op) for op in by_op)
    lines = []
    for op, compressions in by_op.items():
        line = f"      {op.ljust(width)}  {', '.join(compressions)}"
        if len(line) <= WIDTH:
            lines.append(line)
            continue
        lines.append(f"      {op}")
        current = ""
        for compression in compressions:
            candidate = f"{current}, {compression}" if current else compression
            if current and len(candidate) + 10 > WIDTH:
                lines.append(f"          {current},")
                candidate = compression
            current = candidate
        lines.append(f"          {current}")
    return lines


def _columns(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def _short_id(block_id: str) -> str:
    if block_id.startswith("("):
        head, _, rest = block_id.partition(":")
        return f"{head}:{rest[:8]}…"
    return block_id[:16] + "…"


def _ms(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds >= 10:
        return f"{seconds:.2f} s"
    return f"{seconds * 1000:.1f} ms" if seconds >= 0.01 else f"{seconds * 1000:.3f} ms"


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"


RENDERERS: dict[str, Callable[[Report], str]] = {"table": render_table, "json": render_json, "csv": render_csv}

PROGRESS_BYTES = 16 * 1024 * 1024


def run(patterns: list[SourcePattern], *, top: int, output_format: str, progress: bool | None = None) -> str:
    """Read, analyse, render. The progress bar (stderr) is shown for inputs of `PROGRESS_BYTES` or more unless
    `progress` says otherwise; click draws it only on a terminal."""
    files = files_of(patterns, node_name_for)  # the same node names as `serve`
    if not files:
        raise click.UsageError("no file matches " + ", ".join(p.spec for p in patterns))
    total = sum(os.path.getsize(path) for path, _ in files)
    inputs = Inputs()
    if progress if progress is not None else total >= PROGRESS_BYTES:
        with click.progressbar(length=total, label="reading logs", file=sys.stderr) as bar:
            records = read(files, inputs, bar.update)
    else:
        records = read(files, inputs)
    if not records:  # empty tables would read as "no slow block"; the logs may be of another kind or verbosity
        raise click.ClickException(
            f"no Broadcast_benchmark lines in {len(files)} file(s): nothing to rank (are these an engine's text logs?)"
        )
    return RENDERERS[output_format](analyse(records, inputs, top))
