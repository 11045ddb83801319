# Sourced by the tests in tests/systemd/. Gives: fail, info, $TMP (a private temporary
# directory, removed at exit after the test's own cleanup function, if it defines one), and
# install_into DIR (meson install of the build under test into DIR).
# meson passes BUILD_DIR, SOURCE_DIR, MESON and the paths of the built programs.
set -euo pipefail

TEST_NAME=$(basename "$0")
TEST_START=$EPOCHREALTIME

fail() {
	echo "FAIL ($TEST_NAME): $*" >&2
	exit 1
}

info() { # with the time since the test started, to see where the time goes
	local ms=$(((${EPOCHREALTIME/[.,]/} - ${TEST_START/[.,]/}) / 1000))
	printf '%s [%3d.%ds]: %s\n' "$TEST_NAME" $((ms / 1000)) $((ms % 1000 / 100)) "$*"
}

TMP=$(mktemp -d "/tmp/ckptd-$TEST_NAME.XXXXXX")

common_exit() {
	local rc=$?
	trap - EXIT
	if declare -F cleanup >/dev/null; then
		cleanup || echo "$TEST_NAME: cleanup failed" >&2
	fi
	# Never descend into a mount that a failed cleanup left behind.
	if ! grep -q " $TMP/" /proc/self/mountinfo; then
		rm -rf "$TMP"
	else
		echo "$TEST_NAME: $TMP still has mounts; left in place" >&2
		rc=1
	fi
	exit "$rc"
}
trap common_exit EXIT
trap 'exit 130' INT TERM

# The build under test, installed as a package would be (units, generator, man pages).
install_into() {
	timeout 120 "$MESON" install -C "$BUILD_DIR" --no-rebuild --quiet --destdir "$1" >"$TMP/install.log" 2>&1 ||
		{ cat "$TMP/install.log" >&2; fail "meson install --destdir $1 failed"; }
}
