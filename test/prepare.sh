#!/usr/bin/env bash
# What the test suites need besides node_modules, made ready before `npm test` runs them:
# - Redis on 127.0.0.1:6379 (the e2e suites fan out through a real one); started if it is
#   installed but not running;
# - Debian's python3-websockets, the python-websockets client the tutorial e2e suite runs;
# - Debian's chromium, the browser the client's browser e2e suite drives;
# - Debian's haproxy, which the load balancer e2e suite runs with deploy/haproxy.cfg.
# It fails with a clear message, never skips, when something cannot be had.
set -euo pipefail

REDIS_HOST=127.0.0.1
REDIS_PORT=6379

die() { printf 'test/prepare: %s\n' "$*" >&2; exit 1; }

# apt-get needs root; CI runners here are root, developer machines usually have sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else return 1
  fi
}

redis_answers() {
  [ "$(redis-cli -h "$REDIS_HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
}

command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found: install redis-server"
if ! redis_answers; then
  echo "test/prepare: Redis does not answer on $REDIS_HOST:$REDIS_PORT, starting one (no persistence)"
  command -v redis-server >/dev/null 2>&1 || die "redis-server not found: install redis-server"
  as_root mkdir -p /var/lib/redis /var/log/redis || die "cannot create Redis directories"
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log ||
    die "redis-server failed to start (see /var/log/redis/ci.log)"
  # --daemonize returns before the server accepts connections.
  for _ in $(seq 1 50); do redis_answers && break; sleep 0.1; done
  redis_answers || die "Redis still does not answer on $REDIS_HOST:$REDIS_PORT"
fi

if ! /usr/bin/python3 -c 'import websockets' >/dev/null 2>&1; then
  echo "test/prepare: installing Debian's python3-websockets"
  { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-websockets >/dev/null; } ||
    die "cannot install python3-websockets (needs root or passwordless sudo, and apt)"
fi

# Debian's Chromium, the browser test/client-browser.e2e-spec.ts drives (through playwright-core,
# which downloads nothing).
if [ ! -x /usr/bin/chromium ]; then
  echo "test/prepare: installing Debian's chromium"
  { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } ||
    die "cannot install chromium (needs root or passwordless sudo, and apt)"
fi

# Debian's HAProxy, which test/haproxy.e2e-spec.ts runs with the compose topology's
# deploy/haproxy.cfg. Debian installs it in /usr/sbin.
if [ ! -x /usr/sbin/haproxy ] && ! command -v haproxy >/dev/null 2>&1; then
  echo "test/prepare: installing Debian's haproxy"
  { as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null; } ||
    die "cannot install haproxy (needs root or passwordless sudo, and apt)"
fi
