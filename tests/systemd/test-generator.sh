#!/usr/bin/env bash
# ckptd-generator on configurations in a temporary $CKPTD_CONFIG_DIR: the files and links it
# writes for valid schedules, what it says (file and key) about invalid ones, that a broken file
# does not stop the others, and that systemd accepts what it wrote (systemd-analyze verify on
# a meson install with the output in place).
. "$(dirname "$0")/common.sh"

CONF=$TMP/conf
D=$CONF/containers.d
mkdir -p "$D"

container() { # NAME CALENDAR-LINE...: a valid container with the given [Schedule] lines
	local name=$1
	shift
	printf '[Container]\nCgroup=/sys/fs/cgroup/%s\nVolume=/srv/%s\n[Schedule]\n' "$name" "$name" >"$D/$name.conf"
	printf '%s\n' "$@" >>"$D/$name.conf"
}

# run_generator OUTDIR: runs it as systemd does (three directories), within a time limit.
# Sets $rc and $err (its stderr).
run_generator() {
	mkdir -p "$1" "$1.early" "$1.late"
	rc=0
	CKPTD_CONFIG_DIR=$CONF timeout 30 "$CKPTD_GENERATOR" "$1" "$1.early" "$1.late" 2>"$TMP/stderr" || rc=$?
	err=$(cat "$TMP/stderr")
}

# check_timer OUTDIR NAME EXPR: the drop-in says exactly EXPR, the wants link is there.
check_timer() {
	local out=$1 name=$2 expr=$3 dropin link
	dropin=$out/ckptd-checkpoint@$name.timer.d/50-schedule.conf
	link=$out/timers.target.wants/ckptd-checkpoint@$name.timer
	[ -f "$dropin" ] || fail "no drop-in for $name ($dropin)"
	[ "$(grep -v '^#' "$dropin")" = "$(printf '[Timer]\nOnCalendar=\nOnCalendar=%s' "$expr")" ] ||
		fail "drop-in for $name is not [Timer] OnCalendar= (reset) OnCalendar=$expr: $(cat "$dropin")"
	[ -L "$link" ] || fail "no link $link"
	[ "$(readlink "$link")" = "$UNIT_DIR/ckptd-checkpoint@.timer" ] ||
		fail "$link points to $(readlink "$link"), not the template $UNIT_DIR/ckptd-checkpoint@.timer"
}

check_no_timer() { # OUTDIR NAME
	[ ! -e "$1/ckptd-checkpoint@$2.timer.d" ] && [ ! -e "$1/timers.target.wants/ckptd-checkpoint@$2.timer" ] ||
		fail "a timer was generated for $2"
}

expect_err() { # TEXT WHAT: stderr contains TEXT
	grep -qF -- "$1" <<<"$err" || fail "stderr does not mention $2 ('$1'); stderr was: $err"
}

info "no containers.d: nothing to do, exit 0"
rc=0
CKPTD_CONFIG_DIR=$TMP/nowhere timeout 30 "$CKPTD_GENERATOR" "$TMP/none" 2>"$TMP/stderr" || rc=$?
[ "$rc" = 0 ] && [ ! -s "$TMP/stderr" ] || fail "exit $rc, stderr $(cat "$TMP/stderr") without containers.d"

info "valid schedules only: exit 0, silent"
container web 'OnCalendar=*:*:0/5'
container nightly 'OnCalendar=Mon..Fri *-*-* 02:30:00   # inline comment, stripped by the parser'
container minus-1 'OnCalendar=hourly'
container unscheduled 'OnCalendar='
printf '[Container]\nCgroup=/sys/fs/cgroup/x\nVolume=/srv/x\n' >"$D/noschedule.conf"
printf 'not a config\n' >"$D/README.txt"  # not *.conf: ignored, as ckptd does
run_generator "$TMP/out1"
[ "$rc" = 0 ] || fail "exit status $rc with valid configurations; stderr: $err"
[ -z "$err" ] || fail "stderr not empty with valid configurations: $err"
check_timer "$TMP/out1" web '*:*:0/5'
check_timer "$TMP/out1" nightly 'Mon..Fri *-*-* 02:30:00'
check_timer "$TMP/out1" minus-1 hourly
check_no_timer "$TMP/out1" unscheduled
check_no_timer "$TMP/out1" noschedule
[ "$(find "$TMP/out1" -mindepth 1 -maxdepth 1 | wc -l)" = 4 ] ||
	fail "unexpected entries in the output: $(ls "$TMP/out1")"

info "invalid schedules and broken files: reported with file and key, the others still scheduled"
container badcal 'OnCalendar=every full moon'
container dash 'OnCalendar=-1'
printf '[Container]\nCgroup=/sys/fs/cgroup/b\nVolume=/srv/b\nColour=blue\n[Schedule]\nOnCalendar=daily\n' >"$D/broken.conf"
printf '[Schedule]\nOnCalendar=daily\n' >"$D/novolume.conf"
printf '[Container]\nCgroup=/sys/fs/cgroup/s\nVolume=/srv/s\n[Schedule]\nOnCalendar=daily\n' >"$D/has space.conf"
run_generator "$TMP/out2"
[ "$rc" = 1 ] || fail "exit status $rc, expected 1 after errors; stderr: $err"
check_timer "$TMP/out2" web '*:*:0/5'
check_timer "$TMP/out2" nightly 'Mon..Fri *-*-* 02:30:00'
for name in badcal dash broken novolume; do
	check_no_timer "$TMP/out2" "$name"
done
expect_err "$D/badcal.conf: [Schedule] OnCalendar=every full moon: not a valid calendar expression" \
	"the invalid calendar expression"
expect_err "Failed to parse calendar specification" "systemd-analyze's reason"
expect_err "$D/dash.conf: [Schedule] OnCalendar=-1: not a valid calendar expression" \
	"an expression that looks like an option"
expect_err "$D/broken.conf:4: [Container] Colour=blue: unknown key" "the unknown key with its line"
expect_err "$D/novolume.conf" "the file without Volume="
expect_err "'has space' is not a valid container name" "the invalid container name"
expect_err "5 of 10 file(s) in $D not scheduled" "the summary"
echo "$err" | sed 's/^/    stderr: /'
rm "$D/badcal.conf" "$D/dash.conf" "$D/broken.conf" "$D/novolume.conf" "$D/has space.conf"

info "a past date is valid but never elapses: scheduled, with a warning"
container once 'OnCalendar=2001-01-01 00:00:00'
run_generator "$TMP/out5"
[ "$rc" = 0 ] || fail "exit status $rc for a past date; stderr: $err"
check_timer "$TMP/out5" once '2001-01-01 00:00:00'
expect_err "OnCalendar=2001-01-01 00:00:00: valid, but it never elapses" "the never-elapsing date"
rm "$D/once.conf"

info "systemd loads what the generator wrote (systemd-analyze verify; the units themselves: test-units.sh)"
ROOT=$TMP/root
install_into "$ROOT"
cp -an /lib/systemd/system/. "$ROOT$UNIT_DIR/"
# The layout of the generator's directory is that of /etc/systemd/system.
run_generator "$ROOT/etc/systemd/system"
[ "$rc" = 0 ] || fail "generator failed: $err"
out=$(MANPATH="$ROOT$MAN_DIR" timeout 60 systemd-analyze verify --man=no --root="$ROOT" \
	ckptd-checkpoint@web.timer ckptd-checkpoint@nightly.timer ckptd-checkpoint@minus-1.timer 2>&1) ||
	fail "systemd-analyze verify rejects the generated timers: $out"
[ -z "$out" ] || fail "systemd-analyze verify warns about the generated timers: $out"
info "systemd-analyze hanging or missing: timer written anyway, with a warning, in bounded time"
printf '#!/bin/sh\nexec sleep 60\n' >"$TMP/hang"
chmod +x "$TMP/hang"
# One container only: every expression costs the full timeout.
CONF=$TMP/conf-hang
D=$CONF/containers.d
mkdir -p "$D"
container web 'OnCalendar=*:*:0/5'
start=$(date +%s%N)
CKPTD_SYSTEMD_ANALYZE=$TMP/hang run_generator "$TMP/out3"
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
[ "$rc" = 0 ] || fail "exit status $rc when the check timed out; stderr: $err"
check_timer "$TMP/out3" web '*:*:0/5'
expect_err "[Schedule] OnCalendar=*:*:0/5: could not be checked ($TMP/hang did not answer within" "the timeout"
# 3 s for systemd-analyze, then it is killed.
[ "$elapsed_ms" -lt 6000 ] || fail "the generator took ${elapsed_ms} ms with a hanging systemd-analyze"
CKPTD_SYSTEMD_ANALYZE=$TMP/missing run_generator "$TMP/out4"
[ "$rc" = 0 ] || fail "exit status $rc when systemd-analyze is missing; stderr: $err"
check_timer "$TMP/out4" web '*:*:0/5'
expect_err "could not be checked (cannot run $TMP/missing)" "the missing systemd-analyze"

info "ok"
