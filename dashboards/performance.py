"""Performance: the stat-visualizer's charts (throughput, block, queues, collation and validation time stacks, storage
stat cache), from session stats. 60 s window charts use the window gauges (avg/min/max of the newest complete window,
as the stat-visualizer stored them); rates and quantiles use the counters and histograms."""

from dataclasses import replace

from dashboards.common import (
    ANNOTATIONS,
    MASTER,
    NODE,
    RUN,
    SHARDS,
    WORKCHAIN,
    quantile,
    rate,
    select,
    window_amm,
    window_avg,
)
from dashboards.model import Dashboard, Panel, Query, Row

# The legend of a histogram p95 drawn beside window gauges: a different time base, said where it is read.
RECENT_P95 = "p95 over the rate interval {{workchain}}"

W = "tonex_window_"
BY_ACTION = "workchain, action"
MAX = 'agg="max"'


def chart(
    catalogue_id: str,
    title: str,
    queries: tuple[Query, ...],
    unit: str,
    description: str,
    *,
    stacked: bool = False,
    repeat: str = "",
) -> Panel:
    return Panel(title, queries, unit, description, catalogue_id=catalogue_id, stacked=stacked, repeat=repeat)


def _throughput() -> Row:
    return Row(
        "Throughput",
        (
            chart(
                "THR-01",
                "Blocks per second",
                (
                    Query(
                        "max by (workchain) (sum by (workchain, node) "
                        f"(rate(tonex_accepted_blocks_total{{{select()}}}[$__rate_interval])))",
                        "{{workchain}}",
                    ),
                ),
                "ops",
                "Blocks accepted (consensus blockAccepted). Every node accepts every block, so the network rate is "
                "that of the most complete node, not the sum.",
            ),
            chart(
                "THR-02",
                "Transactions per second",
                (
                    Query(
                        f"{rate('tonex_collated_transactions_total')} / {rate('tonex_collated_blocks_total')} * "
                        "max by (workchain) (sum by (workchain, node) "
                        f"(rate(tonex_accepted_blocks_total{{{select()}}}[$__rate_interval])))",
                        "{{workchain}}",
                    ),
                ),
                "ops",
                "Transactions of accepted blocks: accepted blocks per second times the transactions per collated "
                "block (collated candidates that are never accepted, 691 against 599 accepted blocks in 5 minutes "
                "of the demo, do not count).",
            ),
            chart(
                "THR-03",
                "Collations per second",
                (Query(rate("tonex_collated_blocks_total", "workchain, node"), "{{workchain}} {{node}}"),),
                "ops",
                "Blocks collated, per node.",
            ),
            chart(
                "THR-04",
                "Validations per second by result",
                (
                    Query(
                        "max by (workchain, result) (sum by (workchain, result, node) "
                        f"(rate(tonex_validated_blocks_total{{{select()}}}[$__rate_interval])))",
                        "{{workchain}} {{result}}",
                    ),
                ),
                "ops",
                "Candidates validated, valid and invalid. Every validator validates every candidate, so this is the "
                "most complete node's rate, not the sum over nodes (which counted each block once per node).",
            ),
            chart(
                "THR-05",
                "Collation retries per second",
                (Query(rate("tonex_collation_retries_total", "workchain, node"), "{{workchain}} {{node}}"),),
                "ops",
                "Collations with attempt > 0 (only retries that succeeded are written).",
            ),
            chart(
                "THR-06",
                "External messages per second",
                (Query(rate("tonex_collation_ext_messages_total", "workchain, kind"), "{{workchain}} {{kind}}"),),
                "ops",
                "External messages of collated blocks: total, filtered, accepted, rejected.",
            ),
        ),
    )


def _amm(  # noqa: PLR0917 (one argument per catalogue column)
    catalogue_id: str,
    title: str,
    family: str,
    observations: str,
    unit: str,
    description: str,
    by: str = "workchain",
    workchain: str = "",
    aggs: str = "amM",
) -> Panel:
    queries = window_amm(W + family, observations and W + observations, by, workchain=workchain, aggs=aggs)
    return chart(catalogue_id, title, queries, unit, description + " Over the newest complete 60 s window.")


def _block() -> Row:
    return Row(
        "Block",
        (
            _amm(
                "BLK-01",
                "Block size",
                "validation_block_bytes",
                "validation_block_observations",
                "bytes",
                "Actual block size, from validations (every node validates every block).",
            ),
            _amm(
                "BLK-02",
                "Collated data size",
                "validation_collated_data_bytes",
                "validation_collated_data_observations",
                "bytes",
                "Collated data size, from validations.",
            ),
            _amm(
                "BLK-03",
                "Block size estimate",
                "collation_estimated_block_bytes",
                "",
                "bytes",
                "The collator's estimate (block_limits.bytes).",
            ),
            _amm(
                "BLK-04",
                "Collated data size estimate",
                "collation_estimated_collated_data_bytes",
                "",
                "bytes",
                "The collator's estimate (block_limits.collated_data_bytes).",
            ),
            _amm(
                "BLK-05",
                "Transactions per block",
                "collated_transactions",
                "collated_transactions_observations",
                "short",
                "Transactions per collated block.",
            ),
            _amm(
                "BLK-06",
                "Shards",
                "collation_shards",
                "",
                "short",
                "Shards in the masterchain block's shard configuration.",
                workchain=MASTER,
                aggs="aM",
            ),
            _amm(
                "BLK-07",
                "Gas per block",
                "collation_gas",
                "collation_gas_observations",
                "short",
                "block_limits.gas of collated blocks.",
                aggs="aM",
            ),
            _amm(
                "BLK-08",
                "LT delta per block",
                "collation_lt_delta",
                "",
                "short",
                "block_limits.lt_delta of collated blocks.",
                aggs="aM",
            ),
            chart(
                "BLK-09",
                "Block limit categories",
                (
                    Query(
                        f"max by (workchain, limit) ({W}collation_limit_category{{{select(MAX)}}})",
                        "{{workchain}} {{limit}}",
                    ),
                ),
                "short",
                "Worst limit category in the window: 0 underload, 1 normal, 2 soft, 3 medium, 4 hard.",
            ),
            chart(
                "BLK-10",
                "Limit log hits by kind",
                (Query(rate("tonex_collation_limit_hits_total", "workchain, kind"), "{{workchain}} {{kind}}"),),
                "ops",
                "Lines of block_limits.limits_log by the limit that stopped a stage.",
            ),
            *NEXT_FORMAT_PANELS,
        ),
    )


NEXT = "upstream's next format (ton-blockchain/ton PR #2488): empty until the engine writes these fields"
# Why a block set its overload bit and whether the collator wants a split: what a shard split is attributed to.
NEXT_FORMAT_PANELS = (
    Panel(
        "Overload reasons and split wanted",
        (
            Query(
                rate("tonex_collation_overload_reason_blocks_total", "workchain, category", 'category!="none"'),
                "{{workchain}} {{category}}",
            ),
            Query(rate("tonex_collation_split_wanted_blocks_total"), "{{workchain}} split wanted"),
        ),
        "ops",
        "Collated blocks per second that set the overload bit, by block_limits.overload_reason (load: a limit "
        "reached soft; out_msg_queue: force split; long_collation; dispatch_queue), and blocks whose collator "
        f"decided want_split; {NEXT}.",
    ),
    Panel(
        "Peak block limit class",
        (
            Query(
                f"max by (workchain) ({W}collation_peak_limit_class{{{select(MAX)}}})",
                "{{workchain}}",
            ),
        ),
        "short",
        "Worst block_limits.peak_block_limit_class in the window (the running maximum during collation): "
        f"0 underload, 1 normal, 2 soft, 3 medium, 4 hard; {NEXT}.",
    ),
)


def _queues() -> Row:
    return Row(
        "Queues",
        (
            _amm(
                "QUE-01",
                "Msg queue size",
                "collation_out_queue_messages",
                "",
                "short",
                "new_out_msg_queue_size of collated blocks.",
            ),
            _amm(
                "QUE-02",
                "Msg queue growth per block",
                "collation_out_queue_growth_messages",
                "",
                "short",
                "new_out_msg_queue_size - old_out_msg_queue_size.",
                aggs="aM",
            ),
            _amm(
                "QUE-03",
                "Msg queue cleaned",
                "collation_out_queue_cleaned_messages",
                "collation_out_queue_cleaned_observations",
                "short",
                "Messages cleaned from the queue per block.",
            ),
            _amm(
                "QUE-04",
                "Queue total processed",
                "collation_neighbor_processed_messages",
                "collation_neighbor_processed_observations",
                "short",
                "Messages processed from neighbours' queues per block.",
            ),
            _amm(
                "QUE-05",
                "Queue total skipped",
                "collation_neighbor_skipped_messages",
                "collation_neighbor_skipped_observations",
                "short",
                "Messages skipped from neighbours' queues per block.",
            ),
            chart(
                "QUE-06",
                "Queue limit reached fraction",
                (
                    Query(
                        window_avg(
                            W + "collation_neighbor_limit_reached_blocks",
                            W + "collation_neighbor_limit_reached_blocks_observations",
                        ),
                        "{{workchain}}",
                    ),
                ),
                "percentunit",
                "Share of blocks where any neighbour queue hit its limit. Over the newest complete 60 s window.",
            ),
            chart(
                "QUE-07",
                "Load fractions (shards)",
                (Query(window_avg(W + "collation_load_ratio", "", "fraction", workchain=SHARDS), "{{fraction}}"),),
                "percentunit",
                "block_limits.load_fraction_* of shard collations (-1, not measured, skipped). Over the newest "
                "complete 60 s window.",
            ),
            _amm(
                "QUE-08",
                "Msg limit from neighbor queue",
                "collation_neighbor_msg_limit_messages",
                "",
                "short",
                "Message limits applied to neighbour queues (-1, no limit, skipped).",
                workchain=SHARDS,
            ),
            _amm(
                "QUE-09",
                "Max processed messages from one neighbor",
                "collation_neighbor_max_processed_messages",
                "",
                "short",
                "The largest processed_msgs of one neighbour per block.",
                workchain=SHARDS,
            ),
        ),
    )


def _stack(catalogue_id: str, title: str, side: str, clock: str, workchain: str, *, by_node: bool = False) -> Panel:
    by = "node, stage" if by_node else "stage"
    extra = f'clock="{clock}"'
    expr = window_avg(f"{W}{side}_stage_seconds", f"{W}{side}_stage_observations", by, extra=extra, workchain=workchain)
    what = "collation" if side == "collation" else "validation"
    return chart(
        catalogue_id,
        title,
        (Query(expr, "{{stage}}"),),
        "s",
        f"Average {what} time per block by stage ({clock} time, work_time_{clock}_stats), stacked: `other` is "
        "the total minus the known stages"
        + (", and the real-time stack adds the waits" if clock == "real" else "")
        + ". Over the newest complete 60 s window."
        + (" One chart per selected node." if by_node else ""),
        stacked=True,
        repeat="node" if by_node else "",
    )


def _collation() -> Row:
    return Row(
        "Collation time",
        (
            _stack("COL-01", "Collate time (master, real)", "collation", "real", MASTER),
            _stack("COL-02", "Collate time (master, cpu)", "collation", "cpu", MASTER),
            _stack("COL-03", "Collate time (shards, real)", "collation", "real", SHARDS),
            _stack("COL-04", "Collate time (shards, cpu)", "collation", "cpu", SHARDS),
            _stack("COL-05", "Collate time (master, real) on $node", "collation", "real", MASTER, by_node=True),
            _stack("COL-06", "Collate time (shards, real) on $node", "collation", "real", SHARDS, by_node=True),
            chart(
                "COL-07",
                "Collation total time",
                (
                    *window_amm(W + "collation_total_seconds", W + "collation_total_observations"),
                    replace(quantile(0.95, "tonex_collation_total_seconds"), legend=RECENT_P95),
                ),
                "s",
                "total_time of collations: avg/min/max of the newest complete 60 s window (trailing the events by up "
                "to a minute) beside the p95 of all selected nodes from the histogram over the rate interval (now): "
                "two time bases, as the legend says.",
            ),
            _amm(
                "COL-08",
                "Wait for external messages",
                "collation_wait_externals_seconds",
                "collation_wait_externals_observations",
                "s",
                "wait_externals_time of collations.",
                by="workchain, node",
                aggs="aM",
            ),
            _amm(
                "COL-09",
                "Check-load times (shards)",
                "collation_check_load_seconds",
                "",
                "s",
                "check_load_do_collate_time and check_load_total_time of shard collations (masterchain rows are "
                "always -1, not measured, and skipped).",
                by="node, phase",
                workchain=SHARDS,
                aggs="aM",
            ),
            chart(
                "COL-10",
                "Collation work: real vs cpu",
                (
                    Query(
                        window_avg(W + "collation_work_seconds", W + "collation_work_observations"),
                        "real {{workchain}}",
                    ),
                    Query(
                        window_avg(W + "collation_cpu_work_seconds", W + "collation_cpu_work_observations"),
                        "cpu {{workchain}}",
                    ),
                ),
                "s",
                "work_time and cpu_work_time of collations, averaged over the newest complete 60 s window.",
            ),
            chart(
                "COL-11",
                "Top collation wait actions (time_stats)",
                (
                    Query(
                        "topk(10, "
                        + window_avg(
                            W + "collation_action_seconds", W + "collation_action_observations", "workchain, action"
                        )
                        + ")",
                        "{{workchain}} {{action}}",
                    ),
                ),
                "s",
                "The 10 td PerfLog actions with the largest average per block, per workchain (averaging masterchain "
                "and basechain blocks made a figure neither has; numbers in names replaced by N).",
            ),
        ),
    )


def _validation() -> Row:
    return Row(
        "Validation time",
        (
            _stack("VAL-01", "Validate time (master, real)", "validation", "real", MASTER),
            _stack("VAL-02", "Validate time (master, cpu)", "validation", "cpu", MASTER),
            _stack("VAL-03", "Validate time (shards, real)", "validation", "real", SHARDS),
            _stack("VAL-04", "Validate time (shards, cpu)", "validation", "cpu", SHARDS),
            chart(
                "VAL-05",
                "Validate: actual work time (shards)",
                (Query(window_avg(W + "validation_actual_by_mode_seconds", "", "mode", workchain=SHARDS), "{{mode}}"),),
                "s",
                "actual_time (work_time when 0) of shard validations, by parallel or single-thread account "
                "validation. Over the newest complete 60 s window.",
            ),
            chart(
                "VAL-06",
                "Validation total / work / actual time",
                (
                    Query(
                        window_avg(W + "validation_total_seconds", W + "validation_total_observations"),
                        "total {{workchain}}",
                    ),
                    Query(
                        window_avg(W + "validation_work_seconds", W + "validation_work_observations"),
                        "work {{workchain}}",
                    ),
                    Query(
                        window_avg(W + "validation_actual_seconds", W + "validation_actual_observations"),
                        "actual {{workchain}}",
                    ),
                    replace(quantile(0.95, "tonex_validation_total_seconds"), legend=RECENT_P95),
                ),
                "s",
                "Averages over the newest complete 60 s window (trailing the events by up to a minute) beside the p95 "
                "of total_time of all selected nodes from the histogram over the rate interval (current): two time "
                "bases, as the legend says.",
            ),
            chart(
                "VAL-07",
                "Invalid candidates",
                (
                    Query(
                        rate("tonex_validated_blocks_total", "workchain, node", 'result="invalid"'),
                        "{{workchain}} {{node}}",
                    ),
                ),
                "ops",
                "Validations that found the candidate invalid (the row's comment carries the error).",
            ),
            chart(
                "VAL-08",
                "Top validation wait actions (time_stats)",
                (
                    Query(
                        "topk(10, "
                        + window_avg(
                            W + "validation_action_seconds", W + "validation_action_observations", "workchain, action"
                        )
                        + ")",
                        "{{workchain}} {{action}}",
                    ),
                ),
                "s",
                "The 10 td PerfLog actions of validations with the largest average per block, per workchain.",
            ),
        ),
    )


def _cache(catalogue_id: str, title: str, side: str, what: str, workchain: str = "") -> Panel:
    family = f"{W}{side}_storage_stat_cache_{what}"
    expr = window_avg(family, f"{family}_observations", "kind", workchain=workchain)
    return chart(
        catalogue_id,
        title,
        (Query(expr, "{{kind}}"),),
        "short",
        f"storage_stat_cache of {side}s: small, hit and miss {what} per block, stacked. Over the newest complete "
        "60 s window.",
        stacked=True,
    )


def _storage() -> Row:
    ratio = (
        "sum(rate(tonex_{side}_storage_stat_cache_entries_total{{{hit}}}[$__rate_interval])) / "
        "sum(rate(tonex_{side}_storage_stat_cache_entries_total{{{both}}}[$__rate_interval]))"
    )
    return Row(
        "Storage stat cache",
        (
            _cache("SSC-01", "Collate storage stat cache (count)", "collation", "entries", SHARDS),
            _cache("SSC-02", "Collate storage stat cache (cells)", "collation", "cells", SHARDS),
            _cache("SSC-03", "Validate storage stat cache (count)", "validation", "entries"),
            _cache("SSC-04", "Validate storage stat cache (cells)", "validation", "cells"),
            chart(
                "SSC-05",
                "Storage stat cache hit ratio",
                tuple(
                    Query(ratio.format(side=side, hit=select('kind="hit"'), both=select('kind=~"hit|miss"')), side)
                    for side in ("collation", "validation")
                ),
                "percentunit",
                "hit / (hit + miss) of cache lookups. With no lookups (all counters 0, as in the bundled data) the "
                "ratio is undefined and the panel shows no value rather than 0 %.",
            ),
        ),
    )


DASHBOARD = Dashboard(
    uid="ton-performance",
    title="TON performance: blocks, queues, collation and validation",
    folder="TON",
    description="The stat-visualizer's charts, live: throughput, block sizes, message queues, collation and "
    "validation time stacks, storage stat cache. Window charts show the newest complete 60 s window of event time.",
    annotations=ANNOTATIONS,
    variables=(RUN, NODE, WORKCHAIN),
    rows=(_throughput(), _block(), _queues(), _collation(), _validation(), _storage()),
)
