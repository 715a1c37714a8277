#!/usr/bin/env bash
# An external client with its own CA: makes a test CA and NCA-profile certificates with plain openssl,
# configures the CA as a trust anchor, registers the organization, then signs in and submits an
# application with `openssl cms` — no code of Qoljetim's on the client side.
#   scripts/external-ca.sh            (QOLJETIM=path/to/qoljetim to use a built binary)
set -euo pipefail
cd "$(dirname "$0")/.."
QOLJETIM=${QOLJETIM:-target/debug/qoljetim}
[ -x "$QOLJETIM" ] || cargo build -q
W=$(mktemp -d)
SERVER=
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$W"' EXIT
PORT=${PORT:-18089}
BASE="http://127.0.0.1:$PORT"
BIN=940140000385
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {'d': d}))" "$1"; }

# 1. The CA.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/ca.key" -out "$W/ca.pem" -days 365 -utf8 \
  -subj "/CN=Our test CA/O=Test/C=KZ" -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# 2. Certificates in the NCA profile: the head's signing key, an employee's authentication key.
issue() { # name iin role-oid key-purpose-oid key-usage
  cat > "$W/$1.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,$5
extendedKeyUsage=$4,1.2.398.3.3.4.1.2,$3
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
  openssl req -new -newkey rsa:2048 -nodes -keyout "$W/$1.key" -out "$W/$1.csr" -utf8 \
    -subj "/CN=ӘБЕНОВА АЙГҮЛ/SN=ӘБЕНОВА/serialNumber=IIN$2/C=KZ/O=Алматы қаласының мәслихаты/OU=BIN$BIN/GN=ҚАЙРАТҚЫЗЫ" 2>/dev/null
  openssl x509 -req -in "$W/$1.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial -days 30 \
    -extfile "$W/$1.ext" -out "$W/$1.pem" 2>/dev/null
}
issue head 871008401427 1.2.398.3.3.4.1.2.1 1.3.6.1.5.5.7.3.4 digitalSignature,nonRepudiation
issue employee 850712300801 1.2.398.3.3.4.1.2.5 1.3.6.1.5.5.7.3.2 digitalSignature,keyEncipherment

# 3. The server trusts that CA.
cat > "$W/qoljetim.toml" <<TOML
listen = "127.0.0.1:$PORT"
data_dir = "$W/data"
[[pki.trust_anchors]]
name = "our test CA"
certificate = "$W/ca.pem"
development = true
TOML
"$QOLJETIM" org add --config "$W/qoljetim.toml" --bin $BIN --kind maslikhat --territory 750000000 \
  --name-kk "Алматы қаласының мәслихаты" --name-ru "Маслихат города Алматы"
"$QOLJETIM" serve --config "$W/qoljetim.toml" > "$W/server.log" 2>&1 &
SERVER=$!
for _ in $(seq 1 50); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.2; done

sign() { openssl cms -sign -binary -nodetach -outform DER -md sha256 -in "$1" -signer "$W/$2.pem" -inkey "$W/$2.key" | base64 | tr -d '\n'; }

# 4. Sign in with the employee's authentication key.
curl -sf "$BASE/api/v1/auth/challenge" | json 'd["challenge"]' | tr -d '\n' > "$W/challenge"
curl -sf -X POST "$BASE/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"signed_cms\":\"$(sign "$W/challenge" employee)\"}" | json '"signed in: " + d["person"]["iin"] + " of " + d["organization"]["bin"] + " as " + ",".join(d["roles"])'

# 5. The head signs and submits an application.
TODAY=$(TZ=Asia/Almaty date +%F); UNTIL=$(TZ=Asia/Almaty date -d '+6 months' +%F)
printf '%s' "{\"applicant_bin\":\"$BIN\",\"date\":\"$TODAY\",\"head\":{\"surname\":\"Әбенова\",\"name\":\"Айгүл\",\"patronymic\":null},\"systems\":[\"analytical_central\"],\"lines\":[{\"surname\":\"Әбенова\",\"name\":\"Айгүл\",\"patronymic\":null,\"iin\":\"850712300801\",\"position\":\"депутат\",\"unit\":\"комиссия\",\"phone\":\"+7 727 000 0000\",\"email\":\"a.abenova@example.kz\",\"purpose\":\"аудит\",\"access_until\":\"$UNTIL\",\"eqyzmet_qr\":\"QR\"}]}" > "$W/app.json"
curl -sf -X POST "$BASE/api/v1/applications" -H 'Content-Type: application/json' \
  -d "{\"signed_cms\":\"$(sign "$W/app.json" head)\"}" | json '"application " + str(d["id"]) + " " + d["status"] + ", review due " + d["review_due"] + ", anchor: " + d["trust_anchor"]'
