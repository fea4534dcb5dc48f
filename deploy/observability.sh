#!/usr/bin/env bash
# Starts Debian's Prometheus (installed by deploy/setup.sh) against a running platform, with the
# alert rules, for a person to look at: http://127.0.0.1:9090 (graphs, /alerts, /targets).
#   bash deploy/observability.sh                  # scrapes the one-process platform on 127.0.0.1:8080
#   bash deploy/observability.sh 10.0.0.5:8080    # another control-api (or any one-process port)
# PROMETHEUS_PORT (default 9090) and PROMETHEUS_DATA (default data/prometheus) move it.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${1:-127.0.0.1:8080}"
port="${PROMETHEUS_PORT:-9090}"
dir="${PROMETHEUS_DATA:-data/prometheus}"
command -v prometheus >/dev/null 2>&1 || { echo "observability: prometheus is not installed (bash deploy/setup.sh installs it)" >&2; exit 1; }
mkdir -p "$dir"
sed "s|127.0.0.1:8080|$target|" deploy/prometheus/prometheus.yml > "$dir/prometheus.yml"
cp deploy/prometheus/alerts.yml "$dir/alerts.yml"
promtool check config "$dir/prometheus.yml" >/dev/null
echo "observability: Prometheus on http://127.0.0.1:$port scraping $target (alerts: http://127.0.0.1:$port/alerts)"
exec prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" --web.listen-address="127.0.0.1:$port" --log.level=warn
