#!/usr/bin/env bash
# A conformance client in shell: builds the group message and sends it with curl.
#   curl_client.sh {url} {writeKey} {userId} {anonymousId} {groupId} {traits} {context} \
#       {integrations} {timestamp} {messageId}
# BUG=<name> plants one bug: numbers-as-strings, employees-as-string, no-retry, new-message-id.
set -u
url=$1 key=$2 user=$3 anon=$4 group=$5 traits=${6:-} context=${7:-} integrations=${8:-}
stamp=${9:-} mid=${10:-}
bug=${BUG:-}

json_string() {  # a JSON string literal for $1
  local s=$1 out="" c i
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  if [[ $s =~ [[:cntrl:]] ]]; then
    for ((i = 0; i < ${#s}; i++)); do
      c=${s:i:1}
      if [[ $c =~ [[:cntrl:]] ]]; then
        printf -v c '\\u%04x' "'$c"
      fi
      out+=$c
    done
    s=$out
  fi
  printf '"%s"' "$s"
}

[ -n "$traits" ] || traits='{}'
if [ "$bug" = numbers-as-strings ]; then
  traits=$(printf '%s' "$traits" | sed -E 's/([:,\[])(-?[0-9][0-9.eE+-]*)([],}])/\1"\2"\3/g')
fi
if [ "$bug" = employees-as-string ]; then
  traits=$(printf '%s' "$traits" | sed -E 's/"employees":(-?[0-9]+)/"employees":"\1"/')
fi
[ -n "$context" ] || context='{}'
context=${context%\}}
[ "$context" = '{' ] || context+=','
context+='"library":{"name":"curl-client","version":"1.0"}}'
[ -n "$integrations" ] || integrations='{}'
[ -n "$stamp" ] || stamp=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)

message() {  # the body, with messageId $1
  printf '{"batch":[{"type":"group","groupId":%s' "$(json_string "$group")"
  [ -z "$user" ] || printf ',"userId":%s' "$(json_string "$user")"
  [ -z "$anon" ] || printf ',"anonymousId":%s' "$(json_string "$anon")"
  printf ',"traits":%s,"context":%s,"integrations":%s' "$traits" "$context" "$integrations"
  printf ',"timestamp":%s,"messageId":%s}]}' "$(json_string "$stamp")" "$(json_string "$1")"
}

new_id() { cat /proc/sys/kernel/random/uuid; }
[ -n "$mid" ] || mid=$(new_id)

send() {  # send once or with curl's own retries; the exit status is curl's
  curl -sS --fail-with-body -u "$key:" -H 'Content-Type: application/json' \
    --data-binary @- "$@" "$url/v1/batch"
}

case $bug in
  no-retry)
    message "$mid" | send ;;
  new-message-id)
    for _ in 1 2 3 4; do
      message "$mid" | send && exit 0
      mid=$(new_id)  # the bug
      sleep 1
    done
    exit 1 ;;
  *)
    message "$mid" | send --retry 4 --retry-max-time 30 ;;
esac
