#!/usr/bin/env bash
# Starts a private RabbitMQ (Debian's rabbitmq-server) for the reference mode of the
# integration suites, on non-standard loopback ports with every file under one
# directory, so it never touches a system RabbitMQ:
#   scripts/reference-rabbitmq.sh start [AMQP_PORT] [DIR]   (defaults 35700, /tmp/wharf-reference-rabbitmq)
#   WHARF_TEST_REFERENCE_URL=amqp://guest:guest@127.0.0.1:35700 npm test
#   scripts/reference-rabbitmq.sh stop [AMQP_PORT] [DIR]
# With WHARF_REFERENCE_MANAGEMENT_PORT=N set, the management plugin listens on N and
# the prometheus plugin on N+1 (for the management API tests and bench/management.ts).
# WHARF_REFERENCE_CONF_EXTRA holds more rabbitmq.conf lines (e.g. 'max_message_size = 1024'
# for the limits suite's own copy: never on the shared reference).
set -euo pipefail
cmd=${1:-start}
port=${2:-35700}
dir=${3:-/tmp/wharf-reference-rabbitmq}
export HOME=$dir
export RABBITMQ_NODENAME=wharfref$port@localhost
export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
export RABBITMQ_NODE_PORT=$port
export RABBITMQ_DIST_PORT=$((port + 1))
export ERL_EPMD_PORT=$((port + 2))
export ERL_EPMD_ADDRESS=127.0.0.1
export RABBITMQ_MNESIA_BASE=$dir/mnesia
export RABBITMQ_LOG_BASE=$dir/log
export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
export RABBITMQ_PID_FILE=$dir/rabbitmq.pid
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS='-kernel inet_dist_use_interface {127,0,0,1}'
case $cmd in
  start)
    mkdir -p "$dir"
    printf 'listeners.tcp.1 = 127.0.0.1:%s\nloopback_users = none\n' "$port" > "$RABBITMQ_CONFIG_FILE"
    if [ -n "${WHARF_REFERENCE_CONF_EXTRA:-}" ]; then printf '%s\n' "$WHARF_REFERENCE_CONF_EXTRA" >> "$RABBITMQ_CONFIG_FILE"; fi
    echo '[].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
    mgmt=${WHARF_REFERENCE_MANAGEMENT_PORT:-}
    if [ -n "$mgmt" ]; then
      printf 'management.tcp.port = %s\nmanagement.tcp.ip = 127.0.0.1\nprometheus.tcp.port = %s\nprometheus.tcp.ip = 127.0.0.1\n' "$mgmt" $((mgmt + 1)) >> "$RABBITMQ_CONFIG_FILE"
      echo '[rabbitmq_management,rabbitmq_prometheus].' > "$RABBITMQ_ENABLED_PLUGINS_FILE"
    fi
    setsid /usr/lib/rabbitmq/bin/rabbitmq-server > "$dir/stdout.log" 2>&1 < /dev/null &
    for _ in $(seq 1 120); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "reference RabbitMQ ready: WHARF_TEST_REFERENCE_URL=amqp://guest:guest@127.0.0.1:$port"
        exit 0
      fi
      sleep 0.5
    done
    echo "RabbitMQ did not start; see $dir/stdout.log" >&2
    exit 1
    ;;
  stop)
    /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBITMQ_NODENAME" stop || true
    epmd -kill || true
    ;;
  *) echo "usage: $0 start|stop [AMQP_PORT] [DIR]" >&2; exit 2 ;;
esac
