#!/usr/bin/env bash
# A local registry that answers as moto's ECR, so `docker login` / `docker push` follow exactly
# the production path: the name moto hands out (123456789012.dkr.ecr.<region>.amazonaws.com)
# resolves to 127.0.0.1 via /etc/hosts, Debian's docker-registry serves TLS on 127.0.0.1:443
# with a self-signed certificate for that name (trusted by dockerd via /etc/docker/certs.d), and
# htpasswd auth accepts user AWS with moto's fixed token password.
# The same registry also answers as the ECR of the other accounts the end-to-end story uses
# (ECS_POC_REGISTRY_ACCOUNTS, `ACCOUNT:REGION` pairs): each host resolves to 127.0.0.1, is named in
# the certificate and trusted by dockerd; repositories differ by name between accounts.
# Idempotent; state under $ECS_POC_CACHE/registry. Needs root (443, /etc/hosts, /etc/docker).
# Usage: setup-registry.sh [up|down|status]   (env: ECS_POC_CACHE, ECS_POC_REGION, ECS_POC_REGISTRY_ACCOUNTS)
set -euo pipefail
# shellcheck source=.ci/detach.sh
source "$(dirname "$0")/detach.sh"

action=${1:-up}
cache=${ECS_POC_CACHE:-$HOME/.cache/ecs-poc}
region=${ECS_POC_REGION:-eu-west-2}
host=123456789012.dkr.ecr.${region}.amazonaws.com
hosts=$host
for pair in ${ECS_POC_REGISTRY_ACCOUNTS-111111111111:eu-west-2 222222222222:eu-west-1}; do
  hosts="$hosts ${pair%%:*}.dkr.ecr.${pair#*:}.amazonaws.com"
done
dir=$cache/registry
pidfile=$dir/registry.pid
# moto's GetAuthorizationToken always returns base64("AWS:123456789012-auth-token").
password=123456789012-auth-token

answers() {
  # 401 means: TLS for our name works and auth is on; anything else is not our registry.
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 --cacert "$dir/ca.pem" "https://$host/v2/" || true)
  [ "$code" = 401 ]
}

ours_running() { [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; }

case $action in
  status)
    if answers; then echo "registry-as-ECR: up at https://$host"; else echo "registry-as-ECR: down"; exit 1; fi
    exit 0 ;;
  down)
    if ours_running; then kill "$(cat "$pidfile")"; rm -f "$pidfile"; echo "registry-as-ECR: stopped"; fi
    exit 0 ;;
  up) ;;
  *) echo "usage: $0 [up|down|status]" >&2; exit 2 ;;
esac

for tool in docker-registry htpasswd openssl curl; do
  command -v "$tool" >/dev/null || { echo "setup-registry: $tool missing; run .ci/install-system-packages.sh" >&2; exit 1; }
done

mkdir -p "$dir/data"
exec 9>"$dir/.lock"
flock 9

for name in $hosts; do
  if ! grep -qE "^127\.0\.0\.1[[:space:]]+$name([[:space:]]|$)" /etc/hosts; then
    # /etc/hosts may be a bind mount (containers): append in place rather than replace the file.
    printf '127.0.0.1 %s\n' "$name" >>/etc/hosts
  fi
done

# The leaf names every host; `leaf_names_all` is false when a host was added since it was issued.
leaf_names_all() {
  local names name
  names=$(openssl x509 -in "$dir/cert.pem" -noout -ext subjectAltName 2>/dev/null) || return 1
  for name in $hosts; do
    grep -qF "DNS:$name" <<<"$names" || return 1
  done
}

# A CA plus a leaf for the host: TLS clients that verify strictly (rustls) refuse a self-signed
# CA certificate used directly as the server's certificate.
if [ ! -s "$dir/ca.pem" ] || [ ! -s "$dir/ca-key.pem" ] || [ ! -s "$dir/cert.pem" ] || [ ! -s "$dir/key.pem" ] || ! leaf_names_all; then
  # The CA is kept when there is one (docker and earlier clients already trust it); only the leaf
  # is issued again, for the current list of hosts.
  if [ ! -s "$dir/ca.pem" ] || [ ! -s "$dir/ca-key.pem" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=ecs-poc local registry CA" \
      -keyout "$dir/ca-key.pem" -out "$dir/ca.pem" 2>/dev/null
  fi
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$host" -keyout "$dir/key.pem" -out "$dir/leaf.csr" 2>/dev/null
  sans=$(for name in $hosts; do printf 'DNS:%s,' "$name"; done)
  printf 'basicConstraints=critical,CA:FALSE\nsubjectAltName=%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' "${sans%,}" >"$dir/leaf.ext"
  openssl x509 -req -in "$dir/leaf.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial \
    -days 3650 -extfile "$dir/leaf.ext" -out "$dir/cert.pem" 2>/dev/null
  chmod 600 "$dir/key.pem" "$dir/ca-key.pem"
  rm -f "$dir/leaf.csr"
  # A running registry still serves the old certificate: restart it below.
  if ours_running; then kill "$(cat "$pidfile")"; rm -f "$pidfile"; sleep 0.5; fi
fi
for name in $hosts; do
  certs_d=/etc/docker/certs.d/$name
  mkdir -p "$certs_d"
  cmp -s "$dir/ca.pem" "$certs_d/ca.crt" || cp "$dir/ca.pem" "$certs_d/ca.crt"
done

if [ ! -s "$dir/htpasswd" ] || ! htpasswd -vi "$dir/htpasswd" AWS <<<"$password" >/dev/null 2>&1; then
  # -i: the password comes from stdin, never argv.
  htpasswd -Bic "$dir/htpasswd" AWS <<<"$password" 2>/dev/null
fi

cat >"$dir/config.yml.new" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:443
  tls:
    certificate: $dir/cert.pem
    key: $dir/key.pem
auth:
  htpasswd:
    realm: ecs-poc-registry
    path: $dir/htpasswd
YAML
mv -f "$dir/config.yml.new" "$dir/config.yml"

if ! answers; then
  if ! ours_running; then
    echo "setup-registry: starting docker-registry on 127.0.0.1:443 as $host (log: $dir/registry.log)" >&2
    # Detached: the daemon must not inherit (and so hold forever) the setup lock or a caller's.
    detach docker-registry serve "$dir/config.yml" >>"$dir/registry.log" 2>&1
    echo $! >"$pidfile"
  fi
  deadline=$(( $(date +%s) + 20 ))
  until answers; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "setup-registry: registry did not answer on https://$host/v2/ within 20 s; last log lines:" >&2
      tail -n 20 "$dir/registry.log" >&2 || true
      exit 1
    fi
    sleep 0.3
  done
fi
echo "setup-registry: https://$host is up (user AWS, moto's token)" >&2
