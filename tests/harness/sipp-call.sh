#!/usr/bin/env bash
# sipp-call.sh - N calls: sipp UAC -> proxy ($PROXY) -> sipp UAS.
#
# By default a private kamailio (harness/kamailio/kamailio.cfg: stateful,
# record-routing proxy) is started on $PROXY; set START_KAMAILIO=0 to test a
# proxy that is already running there (e.g. the daemon under test).
#
# Env (defaults):
#   PROXY=127.0.0.1:5060     where the UAC sends every request (DIRECT=1: unused)
#   START_KAMAILIO=1         start the bundled kamailio on $PROXY
#   DIRECT=0                 1 = UAC talks straight to the UAS (no proxy)
#   UAS_ADDR=127.0.0.1:5070  sipp UAS listen address
#   UAC_ADDR=127.0.0.1:5061  sipp UAC local address
#   CALLS=10  RATE=5 (calls/s)  HOLD_MS=500 (ms between ACK and BYE)
#   RURI=sip:service@<UAS_ADDR>  Request-URI of the INVITE
#   FROM_USER=caller  FROM_DOMAIN=<UAC host>
#   DOMAIN=harness.test      SIPDOMAIN given to the bundled kamailio
#   TRACE_MSG=auto           1/0: sipp message traces (auto: on if CALLS<=50)
#   MAX_RUNTIME              hard limit for the whole run (default: computed)
#   UAC_SIPP_ARGS            extra sipp arguments for the UAC (e.g. "-t t1" for TCP)
# Exit status: 0 when every call succeeded, 1 when any failed, 2 on setup error.
# Prints one summary line: "RESULT sipp-call calls=N successful=S failed=F ...".
set -uo pipefail
. "$(dirname "$0")/lib/common.sh"

CALLS="${CALLS:-10}"; RATE="${RATE:-5}"; HOLD_MS="${HOLD_MS:-500}"
# bound: time to place the calls + hold + generous slack
h_bound $(( CALLS / (RATE>0?RATE:1) + HOLD_MS/1000 + 60 )) "$@"
h_init sipp-call
h_need sipp

PROXY="${PROXY:-127.0.0.1:5060}"
START_KAMAILIO="${START_KAMAILIO:-1}"
DIRECT="${DIRECT:-0}"
UAS_ADDR="${UAS_ADDR:-127.0.0.1:5070}"
UAC_ADDR="${UAC_ADDR:-127.0.0.1:5061}"
DOMAIN="${DOMAIN:-harness.test}"
UAS_HOST="$(h_host "$UAS_ADDR")"; UAS_PORT="$(h_port "$UAS_ADDR")"
UAC_HOST="$(h_host "$UAC_ADDR")"; UAC_PORT="$(h_port "$UAC_ADDR")"
RURI="${RURI:-sip:service@$(h_urihost "$UAS_HOST"):$UAS_PORT}"
FROM_USER="${FROM_USER:-caller}"
FROM_DOMAIN="${FROM_DOMAIN:-$(h_urihost "$UAC_HOST")}"
TRACE_MSG="${TRACE_MSG:-auto}"
[ "$TRACE_MSG" = auto ] && { [ "$CALLS" -le 50 ] && TRACE_MSG=1 || TRACE_MSG=0; }

h_require_loopback UAS_ADDR "$UAS_HOST"
h_require_loopback UAC_ADDR "$UAC_HOST"
if [ "$DIRECT" = 1 ]; then
	TARGET="$UAS_ADDR"; START_KAMAILIO=0
else
	TARGET="$PROXY"
	h_require_loopback PROXY "$(h_host "$PROXY")"
fi

if [ "$START_KAMAILIO" = 1 ]; then
	h_start_kamailio "$PROXY" -A "SIPDOMAIN=\"$DOMAIN\"" ${KAM_ARGS:-}
fi

h_port_busy udp "$UAS_PORT" "$UAS_HOST" && h_die "UAS address $UAS_ADDR busy"
h_port_busy udp "$UAC_PORT" "$UAC_HOST" && h_die "UAC address $UAC_ADDR busy"

trace_uas=(); trace_uac=()
if [ "$TRACE_MSG" = 1 ]; then
	trace_uas=(-trace_msg -message_file "$WORK/uas_msg.log")
	trace_uac=(-trace_msg -message_file "$WORK/uac_msg.log")
fi

RUN_S=$(( CALLS / (RATE>0?RATE:1) + HOLD_MS/1000 + 20 ))
cd "$WORK" || exit 2
h_spawn sipp-uas sipp -sf "$HARNESS_DIR/sipp/uas.xml" -i "$UAS_HOST" -p "$UAS_PORT" \
	-mp "${UAS_MEDIA_PORT:-16000}" -nostdin -timeout "$((RUN_S + 10))" \
	-trace_err -error_file "$WORK/uas_err.log" "${trace_uas[@]}"
UAS_PID=$H_LAST_PID
h_wait_listen udp "$UAS_HOST" "$UAS_PORT" 5 || h_die "sipp UAS did not start (see $WORK/sipp-uas.log)"

h_log "placing $CALLS calls at $RATE cps to $RURI via $TARGET (hold ${HOLD_MS} ms)"
sipp "$(h_urihost "$(h_host "$TARGET")"):$(h_port "$TARGET")" -sf "$HARNESS_DIR/sipp/uac.xml" \
	-i "$UAC_HOST" -p "$UAC_PORT" -mp "${UAC_MEDIA_PORT:-16100}" -nostdin \
	-key ruri "$RURI" -key from_user "$FROM_USER" -key from_domain "$FROM_DOMAIN" \
	-m "$CALLS" -r "$RATE" -d "$HOLD_MS" -timeout "$RUN_S" \
	-recv_timeout "${RECV_TIMEOUT_MS:-10000}" -default_behaviors all,-abortunexp ${UAC_SIPP_ARGS:-} \
	-trace_stat -stf "$WORK/uac_stat.csv" -fd 1 \
	-trace_err -error_file "$WORK/uac_err.log" "${trace_uac[@]}" \
	>"$WORK/sipp-uac.log" 2>&1 </dev/null
UAC_RC=$?

# last line of the stat file: cumulative counters
col() { awk -F';' -v name="$1" 'NR==1{for(i=1;i<=NF;i++) if($i==name) c=i; next} {v=$c} END{print (v==""?0:v)+0}' "$WORK/uac_stat.csv" 2>/dev/null || echo 0; }
OK=$(col 'SuccessfulCall(C)'); FAIL=$(col 'FailedCall(C)'); RETR=$(col 'Retransmissions(C)')
CREATED=$(col 'TotalCallCreated')

RR=n/a
if [ "$TRACE_MSG" = 1 ] && [ -s "$WORK/uac_msg.log" ]; then
	if grep -qi '^Record-Route:' "$WORK/uac_msg.log"; then RR=yes; else RR=no; fi
fi
h_stop "$UAS_PID"
# late/unexpected messages the UAC ignored (e.g. a 180 forwarded after the 200)
UNEXP=$(grep -c 'Continuing call on unexpected message' "$WORK/uac_err.log" 2>/dev/null) || UNEXP=0

echo "RESULT sipp-call calls=$CALLS created=$CREATED successful=$OK failed=$FAIL retransmissions=$RETR unexpected_ignored=$UNEXP record_route_seen=$RR sipp_rc=$UAC_RC target=$TARGET ruri=$RURI"
if [ "$UAC_RC" -ne 0 ] || [ "$OK" -ne "$CALLS" ] || [ "$FAIL" -ne 0 ]; then
	[ -s "$WORK/uac_err.log" ] && { h_log "first unexpected messages (uac_err.log):"; head -30 "$WORK/uac_err.log" >&2; }
	exit 1
fi
exit 0
