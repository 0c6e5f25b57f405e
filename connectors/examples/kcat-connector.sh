#!/usr/bin/env bash
# Answers marriage-certificate lookups for civil-affairs from a JSON file in the format of the sample
# seed files: [{ "subject": { "<identifier>": "<value>" or ["<value>", ...] }, "record": {...} }].
# Signs replies and heartbeats with the private JWK of the department's connector system (openssl).
set -euo pipefail
BROKERS=${KAFKA_BROKERS:-localhost:9092}
PREFIX=${SILOBRIDGE_TOPIC_PREFIX:-silobridge}
DEPT=civil-affairs
SYSTEM=${SYSTEM_ID:-$DEPT/connector}
KEY_FILE=${SIGNING_KEY_FILE:?set SIGNING_KEY_FILE to the private JWK of $SYSTEM}
DATA=${MARRIAGES_FILE:-connectors/samples/seed/marriage-certificate.json}
INSTANCE=kcat-$(hostname | tr 'A-Z' 'a-z')-$$

b64url() { basenc --base64url -w0 | tr -d '='; }
hex_of_b64url() { local s=$1; while ((${#s} % 4)); do s+='='; done; basenc --base64url -d <<<"$s" | od -An -v -tx1 | tr -d ' \n'; }
bytes_of_hex() { printf '%b' "$(sed 's/../\\x&/g' <<<"$1")"; }
# The JWK's P-256 private key as PEM (SEC1 DER built around d, x and y).
PEM=$(mktemp) && chmod 600 "$PEM"
bytes_of_hex "30770201010420$(hex_of_b64url "$(jq -r .d "$KEY_FILE")")a00a06082a8648ce3d030107a144034200\
04$(hex_of_b64url "$(jq -r .x "$KEY_FILE")")$(hex_of_b64url "$(jq -r .y "$KEY_FILE")")" |
  openssl ec -inform DER -out "$PEM" 2>/dev/null
KID="$SYSTEM#$(jq -r .kid "$KEY_FILE")"

# openssl's DER signature (hex) as the r || s JWS wants (hex, 32 bytes each). DER writes each integer
# in as few bytes as it can, with a 00 first when its high bit is set: drop that, pad with zeros.
der_to_raw() {
  local sig=${1:4} r s                                  # after SEQUENCE and its length
  r=${sig:4:$((16#${sig:2:2} * 2))} && sig=${sig:$((4 + ${#r}))}
  s=${sig:4:$((16#${sig:2:2} * 2))}
  printf '%064s%064s' "${r#00}" "${s#00}" | tr ' ' 0
}
# A compact JWS (ES256) of the JSON in $1, typ $2.
jws() {
  local input der
  input="$(jq -cn --arg kid "$KID" --arg typ "$2" '{alg: "ES256", kid: $kid, typ: $typ}' | tr -d '\n' | b64url).$(printf '%s' "$1" | b64url)"
  der=$(printf '%s' "$input" | openssl dgst -sha256 -sign "$PEM" | od -An -v -tx1 | tr -d ' \n')
  printf '%s.%s' "$input" "$(bytes_of_hex "$(der_to_raw "$der")" | b64url)"
}
# Adds `disclosures` (one [salt, field, value] per record field) and `signature` to the reply in $1.
sign_reply() {
  local reply=$1 claims disclosures='{}' digests='{}' field disclosure
  if [[ $(jq -r .outcome <<<"$reply") == found ]]; then
    while IFS= read -r field; do
      disclosure=$(jq -c --arg salt "$(openssl rand 16 | b64url)" --arg f "$field" '[$salt, $f, .record[$f]]' <<<"$reply" | tr -d '\n' | b64url)
      disclosures=$(jq -c --arg f "$field" --arg d "$disclosure" '. + {($f): $d}' <<<"$disclosures")
      digests=$(jq -c --arg f "$field" --arg d "$(printf '%s' "$disclosure" | openssl dgst -sha256 -binary | b64url)" '. + {($f): $d}' <<<"$digests")
    done < <(jq -r '.record | keys[]' <<<"$reply")
  fi
  claims=$(jq -c --argjson digests "$digests" '{lookupId, certificateType, schemaVersion, outcome,
      department: .connector.department, iat: (now | floor)} +
    if .outcome == "found" then {digests: $digests} elif .outcome == "error" then {error: .error.code} else {} end' <<<"$reply")
  jq -c --argjson d "$disclosures" --arg sig "$(jws "$claims" silobridge-reply+jws)" \
    '. + {signature: $sig} + if .outcome == "found" then {disclosures: $d} else {} end' <<<"$reply"
}

heartbeat() {
  local beat
  beat=$(jq -cn --arg dept "$DEPT" --arg instance "$INSTANCE" --arg state "$1" '{
      version: 1, department: $dept, instanceId: $instance, state: $state, intervalMs: 5000,
      certificateTypes: [{certificateType: "marriage-certificate", schemaVersion: 1}], sentAt: (now | todate)}')
  jq -c --arg sig "$(jws "$beat" silobridge-heartbeat+jws)" '. + {signature: $sig}' <<<"$beat" |
    kcat -P -b "$BROKERS" -t "$PREFIX.heartbeats" -k "$DEPT/$INSTANCE" -H content-type=application/json
}
(trap 'kill $! 2>/dev/null; exit' TERM; while heartbeat up; do sleep 5 & wait $!; done) &
beating=$!
# One line per request: headers (name=value,...), key and value, tab-separated.
exec 3< <(kcat -b "$BROKERS" -G "$PREFIX.connector.$DEPT" -X auto.offset.reset=earliest -q -u \
               -f '%h\t%k\t%s\n' "$PREFIX.lookup-requests.$DEPT")
consuming=$!
trap 'kill $beating $consuming 2>/dev/null; wait $beating || true; heartbeat down; rm -f "$PEM"' EXIT
trap 'exit 0' INT TERM

while IFS=$'\t' read -r headers key value <&3; do
  header() { tr ',' '\n' <<<"$headers" | sed -n "s/^$1=//p"; }
  reply_topic=$(header kafka_replyTopic)
  if ! jq -e 'type == "object"' >/dev/null 2>&1 <<<"$value" || [[ $reply_topic != "$PREFIX.lookup-replies."* ]]; then
    printf '%s\n' "$value" | kcat -P -b "$BROKERS" -t "$PREFIX.dead-letters" -k "$key" \
      -H "silobridge_dead_letter_reason=not JSON, or no usable kafka_replyTopic header"
    continue
  fi
  # Past its deadline: the gateway has already answered 504, so do not reply.
  jq -e '.deadline | sub("\\.[0-9]+Z$"; "Z") | fromdateiso8601 > now' >/dev/null <<<"$value" || continue
  # The one identifier of the subject (either spouse's residentIdNumber, or the certificateNumber)
  id=$(jq -r '[.subject[]][0] // ""' <<<"$value")
  record=$(jq -c --arg id "$id" 'first(.[] | select([.subject[]] | flatten | index([$id])) | .record) // null' "$DATA")
  reply=$(jq -c --argjson record "$record" --arg dept "$DEPT" --arg instance "$INSTANCE" '
      {version: 1, lookupId, certificateType, schemaVersion, connector: {department: $dept, instanceId: $instance}} +
      if .certificateType != "marriage-certificate" then
        {outcome: "error", error: {code: "unsupported-certificate-type", message: "Only marriage certificates here."}}
      elif $record == null then {outcome: "not-found"}
      else {outcome: "found", record: $record} end' <<<"$value")
  sign_reply "$reply" | kcat -P -b "$BROKERS" -t "$reply_topic" -k "$key" \
    -H "kafka_correlationId=$(header kafka_correlationId)" -H content-type=application/json
done
