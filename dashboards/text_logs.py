"""Text logs: Broadcast_benchmark (de)compressions and log lines by level and source file (chart catalogue LOG-*).

The cross-node views of the old slowest-blocks tool join lines by block id, which is never a label: LOG-05, the
broadcast time per block, is measured live by an exporter reading every node's text log (central mode) and drawn
over the run; LOG-06, the slowest blocks by name, stays with `ton-exporter slowest-blocks`."""

from dashboards.common import RUN
from dashboards.model import Dashboard, Panel, Query, Row, Variable

NODE = Variable("node", "Node", 'label_values(tonex_text_log_lines_total{run=~"$run"}, node)')
SELECT = 'run=~"$run", node=~"$node"'
BB = "tonex_broadcast_benchmark_"
COMPRESS = 'stage="compress"'


def _rate(metric: str, by: str, extra: str = "") -> str:
    matchers = f"{SELECT}, {extra}" if extra else SELECT
    return f"sum by ({by}) (rate({metric}{{{matchers}}}[$__rate_interval]))"


def _mean(family: str, by: str, extra: str = "") -> str:
    return f"{_rate(family + '_sum', by, extra)} / {_rate(family + '_count', by, extra)}"


def _p95(family: str, by: str) -> str:
    return f"histogram_quantile(0.95, {_rate(family + '_bucket', 'le, ' + by)})"


SPAN = "tonex_broadcast_block_seconds"
SPAN_RUN = '{run=~"$run"}[$__rate_interval]'

BENCHMARKS = (
    Panel(
        "Block broadcast time (all nodes)",
        (
            Query(f"sum(rate({SPAN}_sum{SPAN_RUN})) / sum(rate({SPAN}_count{SPAN_RUN}))", "avg"),
            Query(f"histogram_quantile(0.95, sum by (le) (rate({SPAN}_bucket{SPAN_RUN})))", "p95"),
        ),
        "s",
        "Per block, its first compression start (line time - time_sec) to its last decompression end, over every "
        "node's text log the exporter reads (central mode; with one node's log, that node's own share): what "
        "`ton-exporter slowest-blocks` ranks, for every block, once no node has logged a line of it for 10 s. Not "
        "by node (a block's broadcast is every node's); the block names are in slowest-blocks (LOG-06). The "
        "catalogue's max is not drawn: the histogram bounds it by its buckets.",
        width=24,
        catalogue_id="LOG-05",
    ),
    Panel(
        "(De)compression time by op",
        (Query(_p95(BB + "seconds", "op"), "p95 {{op}}"),),
        "s",
        "time_sec of Broadcast_benchmark lines: serialize/compress and deserialize/decompress of candidates and "
        "block broadcasts, 95th percentile by op (the callers are in the lines-per-second panel; op and caller, "
        "avg and p95 together drew 31 lines).",
        catalogue_id="LOG-01",
    ),
    Panel(
        "Compression: space saved",
        (
            Query(
                "1 - (" + _mean(BB + "compression_ratio", "compression, called_from", COMPRESS) + ")",
                "{{compression}} {{called_from}}",
            ),
        ),
        "percentunit",
        "1 - compressed_size / original_size of compressions (the lines that log original_size), by compression "
        "and caller; 0 with compression=none.",
        catalogue_id="LOG-02",
    ),
    Panel(
        "Benchmark lines per second",
        (
            Query(
                f"topk(12, {_rate(BB + 'seconds_count', 'op, called_from, compression')})",
                "{{op}} {{called_from}} {{compression}}",
            ),
        ),
        "ops",
        "The 12 most frequent kinds of Broadcast_benchmark lines by op, caller and compression (compressedV2X and "
        "compressedV2_X as one).",
        catalogue_id="LOG-03",
    ),
    Panel(
        "Original and compressed sizes",
        (
            Query(_mean(BB + "original_bytes", "op"), "original {{op}}"),
            Query(_mean(BB + "compressed_bytes", "op"), "compressed {{op}}"),
        ),
        "bytes",
        "Average original_size and compressed_size per line, by op.",
        catalogue_id="LOG-04",
    ),
)

TL = "tonex_text_log_"

TIMINGS = (
    Panel(
        "Collations and validations per second (text logs)",
        (
            Query(_rate(TL + "collation_seconds_count", "workchain, outcome"), "collations {{workchain}} {{outcome}}"),
            Query(_rate(TL + "validation_seconds_count", "workchain"), "validations {{workchain}}"),
        ),
        "ops",
        "`collation took X s`, `collation failed in X s` and `validation took Xs` lines per second, by workchain of "
        "the logging actor (collate(wc,shard):seqno, validateblock(wc,shard):seqno).",
        width=8,
    ),
    Panel(
        "Failed collations by error class",
        (Query(_rate(TL + "collation_seconds_count", "error", 'outcome="failed"'), "{{error}}"),),
        "ops",
        "`collation failed in X s <status>`: a failed collation's only trace (session stats log successes only), by "
        "the class of the td::Status code (timeout, cancelled, notready, internal for the collator's own negative "
        "codes, ...); the workchain of the failures is in the panel beside.",
        width=8,
    ),
    Panel(
        "Collation and validation time p95 (text logs)",
        (
            Query(_p95(TL + "collation_seconds", "workchain, outcome"), "collation {{workchain}} {{outcome}}"),
            Query(_p95(TL + "validation_seconds", "workchain"), "validation {{workchain}}"),
        ),
        "s",
        "95th percentile of the times those lines log (td's perf timer: from the query's start to the candidate, the "
        "failure or the verdict).",
        width=8,
    ),
)

LINES = (
    Panel(
        "Log lines per second by level",
        (Query(_rate("tonex_text_log_lines_total", "node, level"), "{{node}} {{level}}"),),
        "ops",
        "Every td log line by level (fatal, error, warning, info, debug, verbose).",
        catalogue_id="LOG-07",
    ),
    Panel(
        "Warnings and errors by source file",
        (
            Query(
                _rate("tonex_text_log_lines_total", "node, component", 'level=~"fatal|error|warning"'),
                "{{node}} {{component}}",
            ),
        ),
        "ops",
        "Lines at warning level or worse, by the source file that logged them (a bounded set per build).",
        catalogue_id="LOG-08",
    ),
    Panel(
        "Log lines by source file",
        (Query(f"topk(10, {_rate('tonex_text_log_lines_total', 'component')})", "{{component}}"),),
        "ops",
        "The 10 source files that log the most. The catalogue's LOG-09 wants the actor class; actors embed "
        "workchain, shard and session, so the exporter keeps the source file (bounded) instead.",
        catalogue_id="LOG-09",
    ),
    Panel(
        "Certificates in the text log",
        (Query(_rate("tonex_text_log_certificates_total", "workchain, vote"), "{{workchain}} {{vote}}"),),
        "ops",
        "`Obtained certificate for <vote>` lines (simplex pool.cpp:919) of the selected nodes, by workchain and vote "
        "type: a cross-check of the consensus dashboard's certificates per second when session stats are off.",
        catalogue_id="LOG-10",
    ),
    Panel(
        "Multi-line messages and raw output",
        (
            Query(_rate("tonex_text_log_continuation_lines_total", "node"), "continuation lines {{node}}"),
            Query(
                'sum by (node, reason) (rate(tonex_source_lines_rejected_total{node=~"$node", '
                'reason=~"no_prefix|bad_benchmark"}[$__rate_interval])) '
                'and on (node) group by (node) (rate(tonex_text_log_lines_total{run=~"$run"}[$__rate_interval]))',
                "{{node}} {{reason}}",
            ),
        ),
        "ops",
        "Second and later lines of multi-line messages, lines that are not td's (no_prefix: a crash message, a "
        "library on stderr) and Broadcast_benchmark lines without their fields.",
    ),
)

DASHBOARD = Dashboard(
    uid="ton-text-logs",
    title="TON text logs: broadcast benchmarks and log lines",
    folder="TON",
    description="From the engines' td text logs (--text-log): block and candidate (de)compression benchmarks, and "
    "log lines by level and source file.",
    variables=(RUN, NODE),
    rows=(
        Row("Broadcast benchmarks", BENCHMARKS),
        Row("Collation and validation lines", TIMINGS),
        Row("Log lines", LINES),
    ),
)
