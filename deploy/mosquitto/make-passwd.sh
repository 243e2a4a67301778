#!/bin/sh
# Write Mosquitto's password file from the environment (run by the mosquitto-init service
# in docker-compose.yml, inside the eclipse-mosquitto:2 image, before the broker starts).
#
#   URBANOPS_MQTT_GATEWAY_PASSWORD    password of user "gateway" (required)
#   URBANOPS_MQTT_SIMULATOR_PASSWORD  password of user "simulator" (optional)
#
# The health-check user gets a fresh random password on every run, kept next to the
# password file for the broker's health check only.
#
# Field devices: one user per device_id in the same file (re-running this script keeps
# them), e.g.
#   docker compose run --rm --entrypoint mosquitto_passwd mosquitto-init \
#       -b /mosquitto/auth/passwd aq-0042 SECRET
#   docker compose run --rm mosquitto-init        # restores file ownership and modes
#   docker compose kill -s HUP mosquitto          # the broker reloads its users
set -eu

dir="${MOSQUITTO_AUTH_DIR:-/mosquitto/auth}"  # overridable for tests
file="$dir/passwd"
mkdir -p "$dir"
umask 077

: "${URBANOPS_MQTT_GATEWAY_PASSWORD:?set URBANOPS_MQTT_GATEWAY_PASSWORD (see deploy/env.example)}"

tmp="$file.new"
if [ -f "$file" ]; then cp "$file" "$tmp"; else : > "$tmp"; fi  # keep device users
mosquitto_passwd -b "$tmp" gateway "$URBANOPS_MQTT_GATEWAY_PASSWORD"
if [ -n "${URBANOPS_MQTT_SIMULATOR_PASSWORD:-}" ]; then
    mosquitto_passwd -b "$tmp" simulator "$URBANOPS_MQTT_SIMULATOR_PASSWORD"
fi
health=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
mosquitto_passwd -b "$tmp" healthcheck "$health"
printf '%s' "$health" > "$dir/healthcheck.pw"

# The broker drops root privileges and reads the files as user mosquitto.
if [ "$(id -u)" = 0 ]; then chown mosquitto:mosquitto "$dir" "$tmp" "$dir/healthcheck.pw"; fi
chmod 0700 "$dir"
chmod 0600 "$tmp" "$dir/healthcheck.pw"
mv "$tmp" "$file"
echo "mosquitto-init: wrote $file"
