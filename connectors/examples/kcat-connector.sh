#!/usr/bin/env bash
# Answers marriage-certificate lookups for civil-affairs from a JSON file in the format of the sample
# seed files: [{ "subject": { "<identifier>": "<value>" or ["<value>", ...] }, "record": {...} }].
set -euo pipefail
BROKERS=${KAFKA_BROKERS:-localhost:9092}
PREFIX=${SILOBRIDGE_TOPIC_PREFIX:-silobridge}
DEPT=civil-affairs
DATA=${MARRIAGES_FILE:-connectors/samples/seed/marriage-certificate.json}
INSTANCE=kcat-$(hostname | tr 'A-Z' 'a-z')-$$

heartbeat() {
  jq -cn --arg dept "$DEPT" --arg instance "$INSTANCE" --arg state "$1" '{
      version: 1, department: $dept, instanceId: $instance, state: $state, intervalMs: 5000,
      certificateTypes: [{certificateType: "marriage-certificate", schemaVersion: 1}], sentAt: (now | todate)}' |
    kcat -P -b "$BROKERS" -t "$PREFIX.heartbeats" -k "$DEPT/$INSTANCE" -H content-type=application/json
}
(while heartbeat up; do sleep 5; done) &
beating=$!
# One line per request: headers (name=value,...), key and value, tab-separated.
exec 3< <(kcat -b "$BROKERS" -G "$PREFIX.connector.$DEPT" -X auto.offset.reset=earliest -q -u \
               -f '%h\t%k\t%s\n' "$PREFIX.lookup-requests.$DEPT")
consuming=$!
trap 'kill $beating $consuming 2>/dev/null; heartbeat down' EXIT
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
  jq -c --argjson record "$record" --arg dept "$DEPT" --arg instance "$INSTANCE" '
      {version: 1, lookupId, certificateType, schemaVersion, connector: {department: $dept, instanceId: $instance}} +
      if .certificateType != "marriage-certificate" then
        {outcome: "error", error: {code: "unsupported-certificate-type", message: "Only marriage certificates here."}}
      elif $record == null then {outcome: "not-found"}
      else {outcome: "found", record: $record} end' <<<"$value" |
    kcat -P -b "$BROKERS" -t "$reply_topic" -k "$key" \
      -H "kafka_correlationId=$(header kafka_correlationId)" -H content-type=application/json
done
