#!/usr/bin/env bash
# Walks the demo from sign-in to a granted access with nothing but curl, openssl and python3 (for JSON):
# the integrator and the reviewer sign in with their authentication keys (openssl cms over the
# challenge), the head of the Almaty city maslikhat signs an application with the signing key and posts
# it in the maslikhat's session (posted twice, it is one application), the reviewer approves it, the integrator grants it, and the employee signs in and sees the grant. A
# deputy of Parliament reads the Almaty city budget and a rural budget in Karaganda oblast (§6). Then
# revocation: a fresh key of the employee signs in, the development CA revokes it, and the session ends.
# Last, the maslikhat's head sends a signed block request for the employee (§9): the access ends at once.
#
#   qoljetim demo &                       # first terminal (or: cargo run -- demo)
#   scripts/walkthrough.sh [DATA_DIR]     # default data; BASE=http://127.0.0.1:8080
set -euo pipefail
DATA=${1:-data}
BASE=${BASE:-http://127.0.0.1:8080}
DEMO="$DATA/demo"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {'d': d}))" "$1"; }
one() { ls $1 2>/dev/null | head -n1; }

# Attached CMS (SignedData with the content inside), SHA-256, as NCALayer's sign with encapsulate: true.
sign() { # file cert key → base64 DER
  openssl cms -sign -binary -nodetach -outform DER -md sha256 -in "$1" -signer "$2" -inkey "$3" | base64 | tr -d '\n'
}

login() { # auth certificate → session token
  local cert=$1 key=${1%.pem}.key.pem
  curl -sf "$BASE/api/v1/auth/challenge" | json 'd["challenge"]' | tr -d '\n' > "$WORK/challenge"
  local cms; cms=$(sign "$WORK/challenge" "$cert" "$key")
  curl -sf -X POST "$BASE/api/v1/auth/login" -H 'Content-Type: application/json' -d "{\"signed_cms\":\"$cms\"}" | json 'd["token"]'
}

INTEGRATOR=$(login "$(one "$DEMO/integrator/integrator_admin-*-auth.pem")")
REVIEWER=$(login "$(one "$DEMO/minfin/reviewer-*-auth.pem")")
echo "signed in: integrator and reviewer (Order 270 §11: organization's authentication key)"

HEAD_CERT=$(one "$DEMO/maslikhat-almaty/head-*-sign.pem")
EMP_CERT=$(one "$DEMO/maslikhat-almaty/employee1-*-auth.pem")
EMP_IIN=$(basename "$EMP_CERT" | sed -E 's/employee1-([0-9]{12})-auth.pem/\1/')
BIN=$(python3 -c "import json; print([p['bin'] for p in json.load(open('$DEMO/people.json')) if p['organization']=='maslikhat-almaty'][0])")
TODAY=$(TZ=Asia/Almaty date +%F)
cat > "$WORK/application.json" <<JSON
{"applicant_bin":"$BIN","date":"$TODAY","head":{"surname":"Әбенова","name":"Айгүл","patronymic":"Қайратқызы"},
 "systems":["analytical_central","state_planning"],
 "lines":[{"surname":"Сейітова","name":"Динара","patronymic":"Болатқызы","iin":"$EMP_IIN","position":"депутат",
           "unit":"бюджет комиссиясы","phone":"+7 727 000 0000","email":"d.seitova@maslikhat.example.kz",
           "purpose":"бюджеттің атқарылуын бақылау","eqyzmet_qr":"EQYZMET:$EMP_IIN"}]}
JSON
CMS=$(sign "$WORK/application.json" "$HEAD_CERT" "${HEAD_CERT%.pem}.key.pem")
# Posted in a session of the maslikhat (its head signs in with the authentication key): a signed
# document is a submission only in its organization's session, and is accepted once.
HEAD=$(login "$(one "$DEMO/maslikhat-almaty/head-*-auth.pem")")
ID=$(curl -sf -X POST "$BASE/api/v1/applications" -H "Authorization: Bearer $HEAD" -H 'Content-Type: application/json' -d "{\"signed_cms\":\"$CMS\"}" | json 'd["id"]')
echo "application $ID submitted (Order 270 §8: signed by the head with the signing key)"
AGAIN=$(curl -s -o "$WORK/again.json" -w '%{http_code}' -X POST "$BASE/api/v1/applications" -H "Authorization: Bearer $HEAD" -H 'Content-Type: application/json' -d "{\"signed_cms\":\"$CMS\"}")
echo "posted again: $AGAIN, application $(json 'd["id"]' < "$WORK/again.json") (the same signed content is accepted once)"

curl -sf -X POST "$BASE/api/v1/applications/$ID/review" -H "Authorization: Bearer $REVIEWER" -H 'Content-Type: application/json' \
  -d '{"lines":[{"line":1,"decision":"approve"}]}' | json '"status: " + d["status"] + ", grant due " + d["grant_due"]'
curl -sf -X POST "$BASE/api/v1/applications/$ID/grant" -H "Authorization: Bearer $INTEGRATOR" -H 'Content-Type: application/json' -d '{}' \
  | json '"granted: " + ", ".join(g["system"] + " until " + g["valid_until"] + " scope " + str(g["scope"]["territory_prefix"]) for g in d["grants"])'

EMP=$(login "$EMP_CERT")
curl -sf "$BASE/api/v1/me" -H "Authorization: Bearer $EMP" | json '"employee " + d["person"]["iin"] + " holds " + str(len(d["grants"])) + " grants"'
# Order 270 §13, §15: the employee passed the lessons' current versions (the demo seeds it), so the new
# grants start active; each new grant's first read still waits for the §15 duties, accepted here.
for G in $(curl -sf "$BASE/api/v1/grants?own=true" -H "Authorization: Bearer $EMP" \
    | json '" ".join(str(g["id"]) for g in d if g["duties_required"] and not g["duties_accepted_at"])'); do
  curl -sf -X POST "$BASE/api/v1/grants/$G/duties" -H "Authorization: Bearer $EMP" -H 'Content-Type: application/json' \
    -d '{"version":1,"accept":true}' | json '"grant " + str(d["id"]) + " (" + d["status"] + ", trained by " + str(d["training_source"]) + "): §15 duties accepted"'
done
curl -sf "$BASE/api/v1/applications/$ID/evidence" -H "Authorization: Bearer $REVIEWER" -o "$WORK/evidence.p7s"
openssl cms -verify -inform DER -in "$WORK/evidence.p7s" -CAfile "$DATA/dev-ca/ca.pem" -purpose any -out /dev/null 2>/dev/null \
  && echo "evidence verifies with openssl against the development CA"
# The deputy reads Almaty's budget (Order 270 §5–§6) — and is refused Astana's, with the reason.
curl -sf "$BASE/api/v1/data/analytical_central/expenditure?fiscal_year=2026&group_by=program&measures=corrected_plan,paid&sort=-paid&limit=3" \
  -H "Authorization: Bearer $EMP" -H 'Accept-Language: ru' \
  | json '"Almaty by program, top 3: " + "; ".join(r["group"]["program"] + " paid " + str(r["values"]["paid"] // 100) + " tenge" for r in d["rows"])'
curl -s "$BASE/api/v1/data/analytical_central/expenditure?fiscal_year=2026&group_by=program&region=710000000" \
  -H "Authorization: Bearer $EMP" -H 'Accept-Language: ru' | json '"Astana: " + str(d["status"]) + " " + d["detail"]'

# Order 270 §6: Parliament reads the republican budget and all local budgets.
DEPUTY=$(login "$(one "$DEMO/parliament/employee1-*-auth.pem")")
curl -sf "$BASE/api/v1/data/analytical_central/expenditure?fiscal_year=2026&group_by=budget&budget=750000000&measures=paid" \
  -H "Authorization: Bearer $DEPUTY" | json '"Parliament reads the Almaty city budget: paid " + str(d["rows"][0]["values"]["paid"] // 100) + " tenge"'
curl -sf "$BASE/api/v1/data/analytical_central/expenditure?fiscal_year=2026&group_by=budget&region=350000000&budget_level=rural&measures=paid&limit=1" \
  -H "Authorization: Bearer $DEPUTY" | json '"and a rural budget in Karaganda oblast: " + d["rows"][0]["group"]["budget"] + ", notice: " + d["notice"]["text"][:60] + "…"'

# Revocation (DESIGN.md §4): a fresh authentication certificate for the employee signs in; the
# development CA revokes it and publishes its CRL; the server reads it within seconds and the session
# ends at its next request. QOLJETIM names the binary (default: cargo run).
QOLJETIM=${QOLJETIM:-cargo run -q --}
$QOLJETIM dev-ca issue --data-dir "$DATA" --surname СЕЙІТОВА --name ДИНАРА --patronymic БОЛАТҚЫЗЫ \
  --iin "$EMP_IIN" --bin "$BIN" --role employee --purpose auth --out "$WORK" --stem fresh > /dev/null
FRESH=$(login "$WORK/fresh.pem")
curl -sf "$BASE/api/v1/me" -H "Authorization: Bearer $FRESH" > /dev/null && echo "a fresh certificate signs in"
$QOLJETIM dev-ca revoke --data-dir "$DATA" --cert "$WORK/fresh.pem"
sleep 7
curl -s "$BASE/api/v1/me" -H "Authorization: Bearer $FRESH" -H 'Accept-Language: en' \
  | json '"after revocation: " + d["type"].split(":")[-1] + " — " + d["detail"]'

# Order 270 §9: the employing body's block request, signed by its head, posted by the signed-in head.
HEAD=$(login "$(one "$DEMO/maslikhat-almaty/head-*-auth.pem")")
cat > "$WORK/block.json" <<JSON
{"applicant_bin":"$BIN","date":"$TODAY","lines":[{"iin":"$EMP_IIN","reason":"dismissed","effective_date":"$TODAY","order_number":"1-ж/қ"}]}
JSON
BCMS=$(sign "$WORK/block.json" "$HEAD_CERT" "${HEAD_CERT%.pem}.key.pem")
curl -sf -X POST "$BASE/api/v1/block-requests" -H "Authorization: Bearer $HEAD" -H 'Content-Type: application/json' \
  -d "{\"signed_cms\":\"$BCMS\"}" | json '"block request " + str(d["id"]) + ": " + ", ".join(l["iin"] + " blocked " + str(l["blocked_grants"]) + " grants, due " + l["block_due"] for l in d["lines"])'
curl -s "$BASE/api/v1/me" -H "Authorization: Bearer $EMP" -H 'Accept-Language: en' | json '"the employee'"'"'s session: " + d["type"].split(":")[-1]'
echo "done: application $ID granted, then blocked on the employer's request"
