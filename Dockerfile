# ton-exporter: the exporter image. By default it replays the bundled real session stats (`ton-exporter demo`);
# with a tontester network mounted at /network it tails every node's files instead (docker/entrypoint.sh).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/ton-exporter
COPY pyproject.toml README.md ./
COPY ton_exporter ./ton_exporter
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10056 --user-group --home-dir /var/lib/ton-exporter --create-home ton-exporter
COPY docker/entrypoint.sh /usr/local/bin/ton-exporter-entrypoint
COPY docker/healthcheck.sh /usr/local/bin/ton-exporter-healthcheck

USER 10056:10056
EXPOSE 10056
VOLUME ["/var/lib/ton-exporter"]
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["ton-exporter-healthcheck", "http://127.0.0.1:10056/-/healthy"]
ENTRYPOINT ["ton-exporter-entrypoint"]
