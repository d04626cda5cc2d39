#!/bin/sh
# The image's HEALTHCHECK: GET /-/healthy at the URL given (the default address), moved to where the entrypoint
# listens when TON_LISTEN_ADDRESS moves it, so that the check asks the server that runs. A web config with TLS
# or basic auth is not followed here: such a deployment checks health from outside (docs/deployment.md).
set -eu
url=$1
if [ -n "${TON_LISTEN_ADDRESS:-}" ]; then
    host=${TON_LISTEN_ADDRESS%:*}
    port=${TON_LISTEN_ADDRESS##*:}
    case "$host" in "" | 0.0.0.0 | "[::]") host=127.0.0.1 ;; esac
    url="http://$host:$port/-/healthy"
fi
exec python -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "$url"
