#!/bin/sh
# The image's entrypoint. With a tontester network mounted at /network (node<N>/session-logs, node<N>/log), tail
# every node's session stats and text log from the start (a restart resumes from the saved state); otherwise
# replay the bundled real data, its last 3 minutes at once (so that the dashboards fed by session stats have data
# within half a minute of `docker compose up`). Arguments, if any, replace this choice:
#   docker run IMAGE serve --session-logs ...
# TON_NETWORK_DIR, TON_STATE_DIR and TON_LISTEN_ADDRESS move /network, /var/lib/ton-exporter and :10056.
set -eu
if [ "$#" -gt 0 ]; then
    exec ton-exporter "$@"
fi
network=${TON_NETWORK_DIR:-/network}
listen=${TON_LISTEN_ADDRESS:-:10056}
set -- "$network"/node*/session-logs
if [ -e "$1" ]; then
    exec ton-exporter serve --from-start --session-logs "$network/node*/session-logs" --text-log "$network/node*/log" \
        --state.dir "${TON_STATE_DIR:-/var/lib/ton-exporter}" --run "${TON_RUN:-tontester}" --web.listen-address "$listen"
fi
exec ton-exporter demo --history 180 --web.listen-address "$listen"
