"""Exporter health: is ton-exporter reading every file, and what does it cost (chart catalogue EXP-01..09)."""

from dashboards.model import Dashboard, Panel, Query, Row, Variable

NODE = Variable("node", "Node", "label_values(tonex_source_up, node)")
FILES = 'node=~"$node"'


def _rate(metric: str, by: str, extra: str = "") -> str:
    matchers = f"{FILES}, {extra}" if extra else FILES
    return f"sum by ({by}) (rate({metric}{{{matchers}}}[$__rate_interval]))"


UP_DOWN = {"0": {"text": "down", "color": "red"}, "1": {"text": "up", "color": "green"}}
UP_DOWN_LANES = {  # a state timeline of 0/1 series: down red, up green
    "mappings": [{"type": "value", "options": UP_DOWN}],
    "color": {"mode": "thresholds"},
    "thresholds": {"mode": "absolute", "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}]},
}

PANELS = (
    Panel(
        "Sources up",
        (
            Query(f"min by (node) (tonex_source_up{{{FILES}}})", "{{node}} files"),
            Query("min by (pattern) (tonex_source_pattern_up)", "pattern {{pattern}}"),
            Query('up{job="tonex"}', "scrape {{instance}}"),
        ),
        "bool_yes_no",
        "1 when every file of the node is readable, every pattern matches a file, and Prometheus reaches the exporter. "
        "One lane per source (a state timeline): overlapping 0/1 lines could not be told apart.",
        kind="state-timeline",
        field_defaults=UP_DOWN_LANES,
        catalogue_id="EXP-01",
    ),
    Panel(
        "Lines read and parsed per second",
        (
            Query(_rate("tonex_source_lines_read_total", "node"), "read {{node}}"),
            Query(_rate("tonex_source_lines_parsed_total", "node"), "parsed {{node}}"),
        ),
        "ops",
        "Complete lines read and lines that became records.",
        catalogue_id="EXP-02",
    ),
    Panel(
        "Bytes read per second",
        (Query(_rate("tonex_source_read_bytes_total", "node, file"), "{{node}} {{file}}"),),
        "Bps",
        "Bytes read from each file (a file here is a log and its rotated copies).",
        catalogue_id="EXP-02",
    ),
    Panel(
        "Rejected lines by reason",
        (
            Query(_rate("tonex_source_lines_rejected_total", "node, reason") + " > 0", "{{node}} {{reason}}"),
            Query(_rate("tonex_source_field_errors_total", "node, field") + " > 0", "{{node}} field {{field}}"),
            Query(_rate("tonex_consensus_events_rejected_total", "node, reason") + " > 0", "{{node}} event {{reason}}"),
        ),
        "ops",
        "Lines rejected whole, embedded fields that could not be read, malformed consensus events; only reasons "
        "that occur are drawn (every reason is exported at 0). Never fatal: the exporter logs the first of each "
        "reason per file with its offset.",
        catalogue_id="EXP-03",
    ),
    Panel(
        "Records by type",
        (Query(_rate("tonex_source_records_total", "node, type"), "{{node}} {{type}}"),),
        "ops",
        "Records by @type, legacy types included: shows whether a file is legacy or current.",
        catalogue_id="EXP-04",
    ),
    Panel(
        "Tail lag",
        (
            Query(
                f"max by (node, file) (tonex_source_file_size_bytes{{{FILES}}} - tonex_source_read_offset_bytes)",
                "{{node}} {{file}}",
            ),
        ),
        "bytes",
        "File size minus read offset: bytes written but not read yet.",
        catalogue_id="EXP-05",
    ),
    Panel(
        "Event-time freshness",
        (
            Query(
                f"max by (node, file) (time() - tonex_source_last_event_timestamp_seconds{{{FILES}}})",
                "{{node}} {{file}}",
            ),
        ),
        "s",
        "Now minus the newest event time read. About 5 s is normal for consensus (batches are flushed late); a "
        "growing line is a node that stopped writing or an exporter that stopped reading.",
        catalogue_id="EXP-06",
    ),
    Panel(
        "Rotations and truncations",
        (
            Query(_rate("tonex_source_rotations_total", "node"), "rotations {{node}}"),
            Query(_rate("tonex_source_truncations_total", "node"), "truncations {{node}}"),
        ),
        "ops",
        "Rotations (rename or copytruncate) and truncations the tailer followed.",
        catalogue_id="EXP-07",
    ),
    Panel(
        "Unidentified consensus sessions",
        (Query(f"max by (node) (tonex_consensus_unidentified_sessions{{{FILES}}})", "{{node}}"),),
        "short",
        "Sessions whose first batch (with consensus.stats.id) was never read: their events are counted but make "
        "no slots.",
        catalogue_id="EXP-08",
    ),
    Panel(
        "Late records",
        (Query(f"sum by (node) (rate(tonex_window_late_records_total{{{FILES}}}[$__rate_interval]))", "{{node}}"),),
        "ops",
        "Records for a 60 s window older than the one shown: counted in every counter, in no window gauge.",
    ),
    Panel(
        "Live series groups",
        (Query(f"max by (node) (tonex_series_groups{{{FILES}}})", "{{node}}"),),
        "short",
        "(workchain, shard) groups each node exports: at most --limits.max-shards-per-node plus one overflow group "
        "per workchain. Idle groups leave after --limits.idle-timeout (docs/series-bounds.md).",
    ),
    Panel(
        "Label values past the cap, groups retired",
        (
            Query(_rate("tonex_series_overflow_total", "node, label"), "past the cap {{node}} {{label}}"),
            Query(_rate("tonex_series_retired_groups_total", "node"), "groups retired {{node}}"),
        ),
        "ops",
        "Per second: records counted under an overflow value (shard=overflow, component or leader_idx=other), and "
        "idle groups retired (their blocks stay in tonex_retired_blocks_total). Both are logged once per node.",
    ),
    Panel(
        "Exporter CPU",
        (Query('rate(process_cpu_seconds_total{job="tonex"}[$__rate_interval])', "{{instance}}"),),
        "percentunit",
        "CPU seconds per second of the exporter process: the share of one core it uses.",
        catalogue_id="EXP-09",
    ),
    Panel(
        "Scrape duration",
        (Query('scrape_duration_seconds{job="tonex"}', "{{instance}}"),),
        "s",
        "How long Prometheus's scrape of the exporter takes.",
        catalogue_id="EXP-09",
    ),
    Panel(
        "Exporter memory",
        (Query('process_resident_memory_bytes{job="tonex"}', "{{instance}}"),),
        "bytes",
        "Resident memory of the exporter process.",
        catalogue_id="EXP-09",
    ),
)

SSH_PANELS = (
    Panel(
        "SSH hosts up",
        (Query('min by (node, host) (tonex_ssh_up{node=~"$node"})', "{{node}} {{host}}"),),
        "bool_yes_no",
        "Central mode over SSH (docs/fleet.md): 1 while the host's SFTP session is open and being read. One lane "
        "per host; TonexSshHostDown fires when a host stays down.",
        kind="state-timeline",
        field_defaults=UP_DOWN_LANES,
    ),
    Panel(
        "SSH connect failures by reason",
        (
            Query(
                'sum by (node, reason) (increase(tonex_ssh_connect_failures_total{node=~"$node"}[$__rate_interval])) '
                "> 0",
                "{{node}} {{reason}}",
            ),
        ),
        "short",
        "Failed connections and lost sessions per interval: host_key (unknown or changed key: refused, never "
        "skipped), auth (key refused), refused, timeout, unreachable, protocol, lost. Reconnects back off "
        "exponentially with jitter; only reasons that occur are drawn.",
    ),
    Panel(
        "SSH bytes behind",
        (Query('max by (node) (tonex_ssh_bytes_behind{node=~"$node"})', "{{node}}"),),
        "bytes",
        "Remote file sizes minus what has been fetched: written on the validator, not yet copied here.",
    ),
    Panel(
        "Time since the last SSH read",
        (Query('max by (node) (time() - tonex_ssh_last_read_timestamp_seconds{node=~"$node"})', "{{node}}"),),
        "s",
        "Now minus the last time every file of the host was read; about the poll interval while the host is "
        "followed, growing while it is down.",
    ),
)

DASHBOARD = Dashboard(
    uid="ton-exporter-health",
    title="TON exporter health",
    folder="TON",
    description="Whether ton-exporter reads every file of every node, what it rejects, how far behind it is, and "
    "what it costs.",
    variables=(NODE,),
    rows=(
        Row("Sources", PANELS[:5]),
        Row("Lag and state", PANELS[5:10]),
        Row("Process", PANELS[10:]),
        Row("Remote hosts (SSH)", SSH_PANELS),
    ),
)
