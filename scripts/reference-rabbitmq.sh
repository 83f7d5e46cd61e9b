#!/usr/bin/env bash
# Starts a private RabbitMQ (Debian's rabbitmq-server) for the reference mode of the
# integration suites, on non-standard loopback ports with every file under one
# directory, so it never touches a system RabbitMQ:
#   scripts/reference-rabbitmq.sh start [AMQP_PORT] [DIR]   (defaults 35700, /tmp/wharf-reference-rabbitmq)
#   WHARF_TEST_REFERENCE_URL=amqp://guest:guest@127.0.0.1:35700 npm test
#   scripts/reference-rabbitmq.sh stop [AMQP_PORT] [DIR]
# With WHARF_REFERENCE_MANAGEMENT_PORT=N set, the management plugin listens on N and
# the prometheus plugin on N+1 (for the management API tests and bench/management.ts).
# With WHARF_REFERENCE_TLS_DIR=D set, a TLS listener on AMQP_PORT+3 with a throwaway CA
# and localhost certificate made in D (kept if already there), TLS 1.2/1.3 and Wharf's
# cipher list, verify_peer without fail_if_no_peer_cert, EXTERNAL offered
# (rabbitmq_auth_mechanism_ssl) and the user wharf-tls-client for it (the TLS suites:
# test/helpers/tls-broker.ts).
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
    tls=${WHARF_REFERENCE_TLS_DIR:-}
    if [ -n "$tls" ]; then
      mkdir -p "$tls"
      if [ ! -f "$tls/ca.pem" ]; then
        (cd "$tls" &&
          openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=ca 2>/dev/null &&
          openssl req -newkey rsa:2048 -nodes -keyout localhost.key -out localhost.csr -subj /CN=localhost 2>/dev/null &&
          printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\n' > localhost.ext &&
          openssl x509 -req -in localhost.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile localhost.ext -out localhost.pem 2>/dev/null &&
          chmod 644 localhost.key)
      fi
      {
        printf 'listeners.ssl.1 = 127.0.0.1:%s\n' $((port + 3))
        printf 'ssl_options.cacertfile = %s/ca.pem\nssl_options.certfile = %s/localhost.pem\nssl_options.keyfile = %s/localhost.key\n' "$tls" "$tls" "$tls"
        printf 'ssl_options.verify = verify_peer\nssl_options.fail_if_no_peer_cert = false\n'
        printf 'ssl_options.versions.1 = tlsv1.3\nssl_options.versions.2 = tlsv1.2\n'
        i=1
        for c in TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256 TLS_AES_128_GCM_SHA256 ECDHE-ECDSA-AES256-GCM-SHA384 \
            ECDHE-RSA-AES256-GCM-SHA384 ECDHE-ECDSA-CHACHA20-POLY1305 ECDHE-RSA-CHACHA20-POLY1305 ECDHE-ECDSA-AES128-GCM-SHA256 \
            ECDHE-RSA-AES128-GCM-SHA256; do
          printf 'ssl_options.ciphers.%s = %s\n' $i $c; i=$((i + 1))
        done
        printf 'auth_mechanisms.1 = PLAIN\nauth_mechanisms.2 = AMQPLAIN\nauth_mechanisms.3 = EXTERNAL\nssl_cert_login_from = common_name\n'
      } >> "$RABBITMQ_CONFIG_FILE"
      sed -i 's/^\[\(.*\)\]\.$/[\1,rabbitmq_auth_mechanism_ssl]./; s/^\[,/[/' "$RABBITMQ_ENABLED_PLUGINS_FILE"
    fi
    setsid /usr/lib/rabbitmq/bin/rabbitmq-server > "$dir/stdout.log" 2>&1 < /dev/null &
    for _ in $(seq 1 120); do
      if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "reference RabbitMQ ready: WHARF_TEST_REFERENCE_URL=amqp://guest:guest@127.0.0.1:$port"
        if [ -n "${WHARF_REFERENCE_TLS_DIR:-}" ]; then
          /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBITMQ_NODENAME" await_startup > /dev/null
          /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBITMQ_NODENAME" add_user wharf-tls-client "$(openssl rand -hex 12)" > /dev/null 2>&1 || true
          /usr/lib/rabbitmq/bin/rabbitmqctl -n "$RABBITMQ_NODENAME" set_permissions wharf-tls-client '.*' '.*' '.*' > /dev/null
          echo "  TLS: WHARF_TEST_REFERENCE_AMQPS_URL=amqps://guest:guest@127.0.0.1:$((port + 3)) WHARF_TEST_REFERENCE_TLS_DIR=$WHARF_REFERENCE_TLS_DIR"
        fi
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
