"""The validator-engine's own /metrics (`--exporter-address`, job `ton-engine`; chart catalogue ENG-01..06). Its
families start with `ton_`; ours never do. `node` comes from the scrape config's target labels."""

from dashboards.model import Dashboard, Panel, Query, Row, Variable

NODE = Variable("node", "Node", 'label_values(up{job="ton-engine"}, node)')
ENGINE = 'job="ton-engine", node=~"$node"'


def _rate(metric: str, by: str, extra: str = "") -> str:
    matchers = f"{ENGINE}, {extra}" if extra else ENGINE
    return f"sum by ({by}) (rate({metric}{{{matchers}}}[$__rate_interval]))"


PANELS = (
    Panel(
        "First-received source of applied blocks",
        (Query(_rate("ton_first_received_total", "workchain, source"), "{{workchain}} {{source}}"),),
        "ops",
        "Per applied block, the source that delivered it first (broadcast, download, candidate, ...), stacked.",
        stacked=True,
        catalogue_id="ENG-01",
    ),
    Panel(
        "Received by source",
        (Query(_rate("ton_received_total", "workchain, source"), "{{workchain}} {{source}}"),),
        "ops",
        "Per applied block, every source that delivered it.",
        catalogue_id="ENG-02",
    ),
    Panel(
        "Share of blocks first received per source",
        (
            Query(
                f"{_rate('ton_first_received_total', 'workchain, source')} / ignoring(source) group_left "
                f"{_rate('ton_first_received_total', 'workchain')}",
                "{{workchain}} {{source}}",
            ),
        ),
        "percentunit",
        "The share of applied blocks each source delivered first.",
        catalogue_id="ENG-03",
    ),
    Panel(
        "Applied blocks per second: engine vs session stats",
        (
            Query(_rate("ton_first_received_total", "workchain, node"), "engine {{workchain}} {{node}}"),
            Query(
                'sum by (workchain, node) (rate(tonex_accepted_blocks_total{node=~"$node"}[$__rate_interval]))',
                "session stats {{workchain}} {{node}}",
            ),
        ),
        "ops",
        "The engine's count of applied blocks next to the blockAccepted events of the session stats: the two "
        "sources should agree.",
        catalogue_id="ENG-04",
    ),
    Panel(
        "Engine endpoint up",
        (Query('up{job="ton-engine", node=~"$node"}', "{{node}}"),),
        "bool_yes_no",
        "Whether Prometheus reaches the engine's metrics endpoint (a 0/1 beside seconds had no axis of its own).",
        width=6,
        catalogue_id="ENG-05",
    ),
    Panel(
        "Engine exporter collection",
        (
            Query(f"ton_exporter_last_collection_duration_seconds{{{ENGINE}}}", "collection {{node}}"),
            Query(f"time() - ton_exporter_last_collection_timestamp_seconds{{{ENGINE}}}", "age {{node}}"),
        ),
        "s",
        "How long the engine's last metrics collection took, and how old it is.",
        catalogue_id="ENG-05",
    ),
    Panel(
        "Engine HTTP connections",
        (Query(f"max by (node) (ton_http_server_connections_active{{{ENGINE}}})", "{{node}}"),),
        "short",
        "Open connections to the engine's metrics HTTP server.",
        width=6,
        catalogue_id="ENG-06",
    ),
    Panel(
        "Engine HTTP requests",
        (
            Query(_rate("ton_http_server_requests_total", "node"), "requests {{node}}"),
            Query(_rate("ton_http_server_responses_total", "node, code"), "responses {{node}} {{code}}"),
        ),
        "ops",
        "Requests to the engine's metrics HTTP server and its responses by status code.",
        width=6,
        catalogue_id="ENG-06",
    ),
)

DASHBOARD = Dashboard(
    uid="ton-engine",
    title="TON validator-engine metrics",
    folder="TON",
    description="The validator-engine's own Prometheus endpoint (--exporter-address): where applied blocks come "
    "from, and the endpoint's health. Engines before v2026.06 have no block-receive families.",
    variables=(NODE,),
    rows=(Row("Block reception", PANELS[:4]), Row("Endpoint", PANELS[4:])),
)
