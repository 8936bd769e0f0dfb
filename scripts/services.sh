#!/usr/bin/env bash
# Real services for the integration tests, on loopback, each in a temp folder, stopped by PID.
#   scripts/services.sh up      install what is missing (apt, pip), start everything, write $DIR/env
#   scripts/services.sh down    stop everything started by `up` and remove the folder
#   scripts/services.sh status  show what runs
# Settings: NEXUS_SERVICES_DIR (default /tmp/nexus-services), SERVICES (default: all),
# NEXUS_DOCKER_STORAGE_DRIVER (default overlay2, vfs where overlayfs does not work).
# Proven commands: ../shared/notes/services.md.
set -euo pipefail

DIR=${NEXUS_SERVICES_DIR:-/tmp/nexus-services}
SERVICES=${SERVICES:-"postgres prometheus alertmanager docker registry mlflow"}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
PG_PORT=${NEXUS_TEST_PG_PORT:-54329}
PROM_PORT=${NEXUS_TEST_PROM_PORT:-19090}
AM_PORT=${NEXUS_TEST_AM_PORT:-19093}
MLFLOW_PORT=${NEXUS_TEST_MLFLOW_PORT:-15000}
SWARM_PORT=${NEXUS_TEST_SWARM_PORT:-2377}
REGISTRY_PORT=${NEXUS_TEST_REGISTRY_PORT:-15050}
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)

log() { printf '[services] %s\n' "$*" >&2; }

wants() { [[ " $SERVICES " == *" $1 "* ]]; }

apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt install ${missing[*]}"
  if [ ! -f "$DIR/.apt-updated" ]; then apt-get update -qq >/dev/null && touch "$DIR/.apt-updated"; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

wait_for() {  # wait_for NAME SECONDS CMD...
  local name=$1 deadline=$((SECONDS + $2)); shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then log "$name did not become ready"; return 1; fi
    sleep 0.3
  done
}

http_ok() { curl -fsS -o /dev/null --max-time 2 "$1"; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

up_postgres() {
  if [ -z "$PG_BIN" ]; then apt_install postgresql; PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1); fi
  local d=$DIR/pg
  mkdir -p "$d" && chown postgres "$d"
  su postgres -c "$PG_BIN/initdb -D $d/data -A trust -U postgres" >"$d/initdb.log" 2>&1
  su postgres -c "$PG_BIN/pg_ctl -D $d/data -o '-p $PG_PORT -k $d -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200' -l $d/log -w start" >/dev/null
  echo "export NEXUS_PG_DSN=postgresql://postgres@127.0.0.1:$PG_PORT/postgres" >>"$DIR/env"
  log "postgres on 127.0.0.1:$PG_PORT"
}

up_prometheus() {
  apt_install prometheus
  local d=$DIR/prometheus
  mkdir -p "$d/data" "$d/targets" "$d/rules" "$d/alertmanagers"
  cat >"$d/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["$d/rules/*.yml"]
alerting:
  alertmanagers:
    - static_configs: [{targets: ["127.0.0.1:$AM_PORT"]}]
    # tests add their own Alertmanager (its own receivers) as a JSON file here
    - file_sd_configs: [{files: ["$d/alertmanagers/*.json"], refresh_interval: 1s}]
scrape_configs:
  - job_name: nexus-targets
    file_sd_configs:
      - files: ["$d/targets/*.json"]
        refresh_interval: 1s
YML
  prometheus --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/data" \
    --web.listen-address=127.0.0.1:$PROM_PORT --web.enable-lifecycle --web.enable-admin-api \
    >"$d/log" 2>&1 &
  echo $! >"$d/pid"
  wait_for prometheus 30 http_ok "http://127.0.0.1:$PROM_PORT/-/ready"
  {
    echo "export NEXUS_PROMETHEUS_URL=http://127.0.0.1:$PROM_PORT"
    echo "export NEXUS_TEST_PROM_TARGETS_DIR=$d/targets"
    echo "export NEXUS_TEST_PROM_RULES_DIR=$d/rules"
    echo "export NEXUS_TEST_PROM_ALERTMANAGERS_DIR=$d/alertmanagers"
  } >>"$DIR/env"
  log "prometheus on 127.0.0.1:$PROM_PORT"
}

up_alertmanager() {
  apt_install prometheus-alertmanager
  local d=$DIR/alertmanager
  mkdir -p "$d/data"
  cat >"$d/am.yml" <<YML
route:
  receiver: default
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: default
YML
  prometheus-alertmanager --config.file="$d/am.yml" --storage.path="$d/data" \
    --web.listen-address=127.0.0.1:$AM_PORT --cluster.listen-address= >"$d/log" 2>&1 &
  echo $! >"$d/pid"
  wait_for alertmanager 30 http_ok "http://127.0.0.1:$AM_PORT/-/ready"
  echo "export NEXUS_TEST_ALERTMANAGER_URL=http://127.0.0.1:$AM_PORT" >>"$DIR/env"
  log "alertmanager on 127.0.0.1:$AM_PORT"
}

make_module_image() {  # a busybox rootfs imported as nexus-module:1 (no registry reachable here)
  local d=$1 rootfs=$1/rootfs
  docker image inspect nexus-module:1 >/dev/null 2>&1 && return 0
  mkdir -p "$rootfs/bin" "$rootfs/tmp"
  cp /bin/busybox "$rootfs/bin/busybox"
  for tool in sh sleep ls cat echo; do ln -sf busybox "$rootfs/bin/$tool"; done
  tar -C "$rootfs" -cf "$d/rootfs.tar" .
  docker import -c 'CMD ["/bin/sleep","3600"]' "$d/rootfs.tar" nexus-module:1 >/dev/null
  docker import -c 'CMD ["/bin/sleep","3601"]' "$d/rootfs.tar" nexus-module:2 >/dev/null
}

start_dockerd() {  # start_dockerd DIR DRIVER; sets DOCKERD_PID
  DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 dockerd --host="unix://$1/docker.sock" --data-root="$1/root" \
    --exec-root="$1/exec" --pidfile="$1/dockerd.pid" --iptables=false --ip6tables=false \
    --bridge=none --ip-masq=false --storage-driver="$2" >"$1/log" 2>&1 &
  DOCKERD_PID=$!
}

dockerd_settled() { docker info >/dev/null 2>&1 || ! kill -0 "$DOCKERD_PID" 2>/dev/null; }

up_docker() {
  apt_install docker.io containerd runc busybox-static
  local d=$DIR/docker
  mkdir -p "$d"
  export DOCKER_HOST=unix://$d/docker.sock
  # overlay2 shares image layers; vfs copies the whole root filesystem for every layer and
  # container (building the ~850 MB nexus-ml image took minutes on vfs). vfs when the kernel
  # has no overlayfs or dockerd does not start with overlay2 on this file system.
  local driver=${NEXUS_DOCKER_STORAGE_DRIVER:-overlay2}
  grep -qw overlay /proc/filesystems || driver=vfs
  start_dockerd "$d" "$driver"
  wait_for dockerd 60 dockerd_settled
  if ! docker info >/dev/null 2>&1 && [ "$driver" != vfs ]; then
    log "dockerd did not start with $driver ($(tail -n1 "$d/log")); falling back to vfs"
    stop_pidfile dockerd "$d/dockerd.pid"
    driver=vfs
    start_dockerd "$d" "$driver"
    wait_for dockerd 60 docker info
  fi
  log "docker storage driver: $driver"
  docker swarm init --advertise-addr 127.0.0.1:$SWARM_PORT --listen-addr 127.0.0.1:$SWARM_PORT >/dev/null
  make_module_image "$d"
  echo "export DOCKER_HOST=unix://$d/docker.sock" >>"$DIR/env"
  log "docker swarm on $DOCKER_HOST"
}

up_registry() {  # Docker Distribution (the registry v2 API Docker Hub speaks); nginx for tests
  apt_install docker-registry nginx
  local d=$DIR/registry
  mkdir -p "$d/data"
  cat >"$d/config.yml" <<YML
version: 0.1
log: {level: warn}
storage:
  filesystem: {rootdirectory: $d/data}
  delete: {enabled: true}
http:
  addr: 127.0.0.1:$REGISTRY_PORT
YML
  docker-registry serve "$d/config.yml" >"$d/log" 2>&1 &
  echo $! >"$d/pid"
  wait_for registry 30 http_ok "http://127.0.0.1:$REGISTRY_PORT/v2/"
  echo "export NEXUS_TEST_REGISTRY=127.0.0.1:$REGISTRY_PORT" >>"$DIR/env"
  log "registry on 127.0.0.1:$REGISTRY_PORT"
}

up_mlflow() {
  local d=$DIR/mlflow
  mkdir -p "$d/artifacts"
  [ -x "$VENV/bin/mlflow" ] || { log "mlflow missing from $VENV (run make venv)"; return 1; }
  MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false "$VENV/bin/mlflow" server \
    --backend-store-uri "sqlite:///$d/mlflow.db" --artifacts-destination "$d/artifacts" \
    --host 127.0.0.1 --port $MLFLOW_PORT --workers 1 >"$d/log" 2>&1 &
  echo $! >"$d/pid"
  echo "export NEXUS_TEST_MLFLOW_URI=http://127.0.0.1:$MLFLOW_PORT" >>"$DIR/env"
  log "mlflow starting on 127.0.0.1:$MLFLOW_PORT (ready checked at the end)"
}

cmd_up() {
  if [ -f "$DIR/env" ]; then log "already up in $DIR (run down first)"; return 1; fi
  mkdir -p "$DIR" && : >"$DIR/env"
  command -v curl >/dev/null || apt_install curl ca-certificates
  for s in postgres prometheus alertmanager docker registry mlflow; do
    wants "$s" && "up_$s"
  done
  if wants mlflow; then wait_for mlflow 120 http_ok "http://127.0.0.1:$MLFLOW_PORT/health"; fi
  log "environment: $DIR/env"
}

stop_pidfile() {  # stop_pidfile NAME PIDFILE
  local pidfile=$2
  pid_alive "$pidfile" || return 0
  local pid; pid=$(cat "$pidfile")
  pkill -TERM -P "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  log "stopped $1"
}

cmd_down() {
  [ -d "$DIR" ] || return 0
  stop_pidfile mlflow "$DIR/mlflow/pid"
  stop_pidfile prometheus "$DIR/prometheus/pid"
  stop_pidfile alertmanager "$DIR/alertmanager/pid"
  stop_pidfile registry "$DIR/registry/pid"
  if [ -d "$DIR/docker" ]; then
    local d=$DIR/docker
    if [ -S "$d/docker.sock" ]; then
      DOCKER_HOST=unix://$d/docker.sock docker swarm leave --force >/dev/null 2>&1 || true
    fi
    stop_pidfile dockerd "$d/dockerd.pid"
    pkill -f "containerd.*$d" 2>/dev/null || true
    mountpoint -q "$d/exec/netns/default" 2>/dev/null && umount "$d/exec/netns/default" || true
    ip link delete docker_gwbridge >/dev/null 2>&1 || true
  fi
  if [ -f "$DIR/pg/data/postmaster.pid" ]; then
    su postgres -c "$PG_BIN/pg_ctl -D $DIR/pg/data -m immediate -w stop" >/dev/null 2>&1 || true
    log "stopped postgres"
  fi
  # vfs layers and overlay mounts may linger: unmount anything left under DIR before removing it.
  grep " $DIR" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$DIR"
}

cmd_status() {
  [ -f "$DIR/env" ] || { echo "down"; return 0; }
  cat "$DIR/env"
  for f in "$DIR"/*/pid "$DIR/docker/dockerd.pid"; do
    [ -f "$f" ] || continue
    if pid_alive "$f"; then echo "running: $f"; else echo "dead: $f"; fi
  done
  [ -f "$DIR/pg/data/postmaster.pid" ] && echo "running: postgres"
  return 0
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
