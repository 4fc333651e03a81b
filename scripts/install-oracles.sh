#!/usr/bin/env bash
# Installs the Kafka client code nobody here wrote that the tests check spool against,
# beyond the npm devDependencies (kafkajs, @platformatic/kafka): Debian's kafka-python
# with its snappy, lz4 and zstd codecs, the one oracle here that encodes zstd and checks
# CRC-32C itself (test/helpers/foreign-batches.ts runs it as /usr/bin/python3), and kcat
# (librdkafka), which the Kafka listener's tests drive (test/kafka/clients/; they fail
# without it). .ci/run calls this first.
# Needs root for apt-get (or sudo). Safe to run again; does nothing when all is there.
set -euo pipefail

PACKAGES=(kcat python3-kafka python3-snappy python3-lz4 python3-zstandard)
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if command -v kcat >/dev/null && /usr/bin/python3 -c 'import kafka, snappy, lz4.frame, zstandard' 2>/dev/null; then
  echo "oracles present: kafka-python $(/usr/bin/python3 -c 'import kafka; print(kafka.__version__)'), $(kcat -V 2>&1 | head -1)"
  exit 0
fi
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PACKAGES[@]}"
echo "oracles installed: kafka-python $(/usr/bin/python3 -c 'import kafka; print(kafka.__version__)')"
