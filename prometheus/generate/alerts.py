"""The alerts: the PromQL and the wording of each, once; thresholds.yml gives their numbers (see levels.py)."""

from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus.generate.config import Params, bytes_human, duration_seconds
from prometheus.generate.recording import SKIP_RATIO


@dataclass(frozen=True)
class Alert:
    name: str
    group: str
    expr: str
    summary: str
    description: str
    condition: str  # for the thresholds table in docs/alerts.md
    shared: tuple[str, ...] = ()  # keys every level takes from the alert's entry
    per_level: tuple[str, ...] = ()  # keys each level has (besides `for`)
    fixed: Params = field(default_factory=dict)
    derive: Callable[[Params], Params] = lambda p: {}


def _keep_ratio(p: Params) -> Params:
    return {"keep_ratio": 1 - p["drop_percent"] / 100}


UP_WHERE = "{{ $labels.instance }} (network {{ $labels.network }}{{ with $labels.node }}, node {{ . }}{{ end }})"

LATENCY = """(
  node_workchain:[[metric]]:p95_rate5m{workchain!="unknown"}
  /
  avg_over_time(node_workchain:[[metric]]:p95_rate5m[[[baseline]]] offset [[baseline_gap]])
) > [[factor]]
and
node_workchain:[[metric]]:p95_rate5m > [[min_seconds]]"""

RATE_VS_RUN = """(
  workchain:[[record]]{workchain!="unknown"}
  /
  avg_over_time(workchain:[[record]][[[baseline]]] offset [[baseline_gap]])
) < [[keep_ratio]]
and
avg_over_time(workchain:[[record]][[[baseline]]] offset [[baseline_gap]]) > [[min_baseline_per_second]]"""

RATE_VS_DAY = """(
  max without (run) (workchain:[[record]]{workchain!="unknown"})
  /
  max without (run) (workchain:[[record]]{workchain!="unknown"} offset 1d)
) < [[keep_ratio]]
and
max without (run) (workchain:[[record]]{workchain!="unknown"} offset 1d) > [[min_baseline_per_second]]"""

DISK = 'job="[[job_node_exporter]]",mountpoint=~"[[mountpoints]]"'


def _latency(name: str, metric: str, what: str) -> Alert:
    return Alert(
        name,
        "ton-latency",
        LATENCY,
        f"{what} p95 of {{{{ $labels.node }}}} regressed on workchain {{{{ $labels.workchain }}}}",
        f"The p95 {what.lower()} time of {{{{ $labels.node }}}} ({{{{ $labels.network }}}}, run {{{{ $labels.run }}}}) "
        'on workchain {{ $labels.workchain }} over the last 5m is {{ $value | printf "%.1f" }} times its mean p95 '
        "over the [[baseline]] that ended [[baseline_gap]] ago, and above [[min_seconds]] s.",
        f"a node's p95 `{metric}` over 5m > [[factor]] x its mean p95 over [[baseline]] ending [[baseline_gap]] "
        "ago, and > [[min_seconds]] s",
        shared=("factor", "baseline", "baseline_gap", "min_seconds"),
        fixed={"metric": metric},
    )


def _rate_drop(name: str, record: str, what: str, vs_run: bool) -> Alert:
    if vs_run:
        return Alert(
            name,
            "ton-throughput",
            RATE_VS_RUN,
            f"{what} rate of workchain {{{{ $labels.workchain }}}} dropped against earlier in the run",
            f"The {what.lower()} rate of workchain {{{{ $labels.workchain }}}} ({{{{ $labels.network }}}}, run "
            "{{ $labels.run }}) over the last 5m is {{ $value | humanizePercentage }} of its mean over the "
            "[[baseline]] that ended [[baseline_gap]] ago (alert below [[keep_percent]]%).",
            f"`{record}` of a workchain < [[keep_percent]]% of the same run's mean over [[baseline]] ending "
            "[[baseline_gap]] ago (baseline > [[min_baseline_per_second]]/s)",
            shared=("drop_percent", "baseline", "baseline_gap", "min_baseline_per_second"),
            fixed={"record": record},
            derive=lambda p: {**_keep_ratio(p), "keep_percent": 100 - p["drop_percent"]},
        )
    return Alert(
        name,
        "ton-throughput",
        RATE_VS_DAY,
        f"{what} rate of workchain {{{{ $labels.workchain }}}} dropped against yesterday",
        f"The {what.lower()} rate of workchain {{{{ $labels.workchain }}}} ({{{{ $labels.network }}}}) over the "
        "last 5m is {{ $value | humanizePercentage }} of its rate at the same time yesterday "
        "(alert below [[keep_percent]]%).",
        f"`{record}` of a workchain < [[keep_percent]]% of the same 5m a day earlier, any run "
        "(that rate > [[min_baseline_per_second]]/s)",
        shared=("drop_percent", "min_baseline_per_second"),
        fixed={"record": record},
        derive=lambda p: {**_keep_ratio(p), "keep_percent": 100 - p["drop_percent"]},
    )


ALERT_SPECS = (
    Alert(
        "TonexExporterDown",
        "ton-endpoints",
        'up{job="[[job_exporter]]"} == 0',
        "ton-exporter {{ $labels.instance }} is down",
        f"Prometheus has not scraped ton-exporter at {UP_WHERE} for [[for]]: that node's session stats reach "
        "neither the dashboards nor the other alerts.",
        '`up{job="[[job_exporter]]"} == 0`',
    ),
    Alert(
        "TonEngineEndpointDown",
        "ton-endpoints",
        'up{job="[[job_engine]]"} == 0',
        "validator-engine metrics endpoint {{ $labels.instance }} is down",
        f"Prometheus has not scraped the validator-engine's /metrics at {UP_WHERE} for [[for]]: the engine is "
        "down, or its --exporter-address is not listening.",
        '`up{job="[[job_engine]]"} == 0`',
    ),
    Alert(
        "NodeExporterDown",
        "ton-endpoints",
        'up{job="[[job_node_exporter]]"} == 0',
        "node-exporter {{ $labels.instance }} is down",
        f"Prometheus has not scraped node-exporter at {UP_WHERE} for [[for]]: the disk forecast of this host is blind.",
        '`up{job="[[job_node_exporter]]"} == 0`',
    ),
    Alert(
        "TonexSourceDown",
        "ton-endpoints",
        "tonex_source_up == 0",
        "session stats {{ $labels.file }} of {{ $labels.node }} missing or unreadable",
        "ton-exporter at {{ $labels.instance }} cannot read {{ $labels.file }} (node {{ $labels.node }}) for "
        "[[for]]: the file does not exist or is not readable.",
        "`tonex_source_up == 0`",
    ),
    Alert(
        "TonexSshHostDown",
        "ton-endpoints",
        "tonex_ssh_up == 0",
        "ton-exporter cannot follow {{ $labels.node }} over SSH",
        "ton-exporter at {{ $labels.instance }} has had no SFTP session to {{ $labels.host }} (node "
        "{{ $labels.node }}) for [[for]]: see tonex_ssh_connect_failures_total for the reason.",
        "`tonex_ssh_up == 0`",
    ),
    Alert(
        "TonNodeStatsStalled",
        "ton-consensus",
        """(
  sum by (network, node) (increase(tonex_source_lines_read_total[[[window]]])) == 0
)
and on (network, node)
(
  max by (network, node) (up{job="[[job_engine]]"}) == 1
)""",
        "session stats of {{ $labels.node }} stopped while its engine is up",
        "ton-exporter has read no session-stats line of {{ $labels.node }} ({{ $labels.network }}) for "
        "[[window]], while the node's validator-engine endpoint answers.",
        "no line read from a node's files for [[window]] while `up` of its engine endpoint is 1",
        shared=("window",),
    ),
    Alert(
        "TonNoBlockAccepted",
        "ton-consensus",
        'max by (network, run, workchain) (increase(tonex_accepted_blocks_total{workchain!="unknown"}'
        "[[[window]]])) == 0",
        "no block accepted on workchain {{ $labels.workchain }} of {{ $labels.network }}",
        "No node of {{ $labels.network }} (run {{ $labels.run }}) has accepted a block on workchain "
        "{{ $labels.workchain }} for [[window]]: the workchain is stalled, or the stats of every node stopped.",
        "no `tonex_accepted_blocks_total` increase on any node of a workchain for [[window]]",
        shared=("window",),
    ),
    Alert(
        "TonNoBlockFinalized",
        "ton-consensus",
        'max by (network, run, workchain) (increase(tonex_consensus_finalized_slots_total{workchain!="unknown"}'
        "[[[window]]])) == 0",
        "no slot finalized on workchain {{ $labels.workchain }} of {{ $labels.network }}",
        "No node of {{ $labels.network }} (run {{ $labels.run }}) has seen a finalize certificate on workchain "
        "{{ $labels.workchain }} for [[window]]: consensus is stuck, or the stats of every node stopped.",
        "no `tonex_consensus_finalized_slots_total` increase on any node of a workchain for [[window]]",
        shared=("window",),
    ),
    Alert(
        "TonInvalidBlocks",
        "ton-consensus",
        'sum by (network, run, node, workchain) (increase(tonex_validated_blocks_total{result="invalid"}'
        "[[[window]]])) > 0",
        "{{ $labels.node }} validated an invalid block on workchain {{ $labels.workchain }}",
        "{{ $labels.node }} ({{ $labels.network }}, run {{ $labels.run }}) found about "
        '{{ $value | printf "%.0f" }} invalid block candidate(s) on workchain {{ $labels.workchain }} in the '
        "last [[window]].",
        '`tonex_validated_blocks_total{result="invalid"}` increased within [[window]]',
        shared=("window",),
    ),
    Alert(
        "TonSkippedSlotsRising",
        "ton-consensus",
        f'workchain:{SKIP_RATIO}:ratio_rate5m{{workchain!="unknown"}} > [[skipped_ratio]]',
        "{{ $value | humanizePercentage }} of slots skipped on workchain {{ $labels.workchain }}",
        "{{ $value | humanizePercentage }} of the slots of workchain {{ $labels.workchain }} "
        "({{ $labels.network }}, run {{ $labels.run }}) over the last 5m were skipped "
        "(alert above [[skipped_percent]]%).",
        "skipped / all slots of a workchain over 5m > [[skipped_percent]]%",
        per_level=("skipped_percent",),
        derive=lambda p: {"skipped_ratio": p["skipped_percent"] / 100},
    ),
    _rate_drop("TonBlockRateDropVsRun", "tonex_accepted_blocks:max_rate5m", "Block", vs_run=True),
    _rate_drop("TonBlockRateDropVsYesterday", "tonex_accepted_blocks:max_rate5m", "Block", vs_run=False),
    _rate_drop("TonTransactionRateDropVsRun", "tonex_collated_transactions:rate5m", "Transaction", vs_run=True),
    _rate_drop("TonTransactionRateDropVsYesterday", "tonex_collated_transactions:rate5m", "Transaction", vs_run=False),
    _latency("TonCollationLatencyRegressed", "tonex_collation_total_seconds", "Collation"),
    _latency("TonValidationLatencyRegressed", "tonex_validation_total_seconds", "Validation"),
    _latency("TonNotarizationLatencyRegressed", "tonex_consensus_notarization_seconds", "Notarization"),
    _latency("TonFinalizationLatencyRegressed", "tonex_consensus_finalization_seconds", "Finalization"),
    Alert(
        "TonexParseErrors",
        "tonex-health",
        """(
  sum by (network, node, reason) (rate(tonex_source_lines_rejected_total{reason!="no_prefix"}[[[window]]]))
  / on (network, node) group_left
  sum by (network, node) (rate(tonex_source_lines_read_total[[[window]]]))
) > [[rejected_ratio]]""",
        "ton-exporter rejects {{ $labels.reason }} lines of {{ $labels.node }}",
        "{{ $value | humanizePercentage }} of the lines read from the files of {{ $labels.node }} "
        "({{ $labels.network }}) over the last [[window]] were rejected as {{ $labels.reason }}: what they held "
        "is missing from every metric.",
        "rejected / read lines of a node over [[window]] > [[rejected_percent]]%, per reason",
        shared=("window", "rejected_percent"),
        derive=lambda p: {"rejected_ratio": p["rejected_percent"] / 100},
    ),
    Alert(
        "TonexTailerLagGrowing",
        "tonex-health",
        """(
  (tonex_source_file_size_bytes - tonex_source_read_offset_bytes) > [[lag_bytes]]
)
and
(
  (tonex_source_file_size_bytes - tonex_source_read_offset_bytes)
  >
  (tonex_source_file_size_bytes offset [[growth_window]] - tonex_source_read_offset_bytes offset [[growth_window]])
)""",
        "ton-exporter falls behind {{ $labels.file }} of {{ $labels.node }}",
        "{{ $value | humanize1024 }}B of {{ $labels.file }} (node {{ $labels.node }}, {{ $labels.instance }}) "
        "are not read yet, more than [[growth_window]] before (alert above [[lag_human]]).",
        "file size - read offset > [[lag_human]] and larger than [[growth_window]] before",
        shared=("growth_window",),
        per_level=("lag_bytes",),
        derive=lambda p: {"lag_human": bytes_human(p["lag_bytes"])},
    ),
    Alert(
        "TonexStateSaveErrors",
        "tonex-health",
        "increase(tonex_state_save_errors_total[[[window]]]) > 0",
        "ton-exporter {{ $labels.instance }} cannot save its state",
        "ton-exporter at {{ $labels.instance }} ({{ $labels.network }}) failed to write its checkpoint within "
        "every [[window]] for [[for]]: after a restart it would read lines again from an old position.",
        "`tonex_state_save_errors_total` increased within [[window]]",
        shared=("window",),
    ),
    Alert(
        "TonLogDiskFillingUp",
        "ton-host",
        f"""(
  node_filesystem_avail_bytes{{{DISK}}} / node_filesystem_size_bytes{{{DISK}}} * 100 < [[free_below_percent]]
)
and
predict_linear(node_filesystem_avail_bytes{{{DISK}}}[[[trend]]], [[full_within_seconds]]) < 0
and
node_filesystem_readonly{{{DISK}}} == 0""",
        "{{ $labels.mountpoint }} of {{ $labels.instance }} fills up within [[full_within]]",
        "{{ $labels.mountpoint }} on {{ $labels.instance }} (network {{ $labels.network }}"
        '{{ with $labels.node }}, node {{ . }}{{ end }}) has {{ $value | printf "%.1f" }}% free and, at the '
        "rate of the last [[trend]], is full within [[full_within]].",
        "free space < [[free_below_percent]]% and `predict_linear` over [[trend]] says full within [[full_within]]",
        shared=("mountpoints", "trend"),
        per_level=("full_within", "free_below_percent"),
        derive=lambda p: {"full_within_seconds": duration_seconds(p["full_within"])},
    ),
    Alert(
        "Watchdog",
        "meta",
        "vector(1)",
        "the alerting pipeline is alive",
        "Always firing, on purpose: the dead man's switch receiver must hear from it every minute, and pages "
        "when it stops (Prometheus, its rules or Alertmanager are down).",
        "always",
    ),
)
