#!/usr/bin/env bash
# The man pages format without warnings and document what the programs and the code have:
# every command and option of `ckptctl --help`, every option of `ckptd --help`, every key of
# common/config.c's tables, the exit codes, the JSON fields of pairs (DESIGN.md), of
# containers and status (the Varlink interface), and the MESSAGE_IDs ckptd logs. Also: the bash
# completion knows every command. A new verb, option or key fails here until it is documented.
. "$(dirname "$0")/common.sh"

command -v groff >/dev/null || fail "groff is missing (tools/setup installs groff-base)"
MAN=$SOURCE_DIR/man
# Plain text, no hyphenation, long lines: words stay whole for grep.
render() {
	groff -t -man -Tutf8 -rHY=0 -rLL=250n -P-cbou "$1" 2>"$TMP/groff.err"
}

for page in ckptd.8 ckptctl.8 ckptd.conf.5; do
	out=$(LC_ALL=C.UTF-8 groff -t -man -ww -z "$MAN/$page" 2>&1) || fail "groff failed on $page: $out"
	[ -z "$out" ] || fail "groff warns about $page: $out"
	render "$MAN/$page" >"$TMP/$page.txt"
	[ -s "$TMP/$page.txt" ] || fail "$page renders to nothing: $(cat "$TMP/groff.err")"
done

missing=()
need() { # PAGE WORD WHAT
	grep -qF -- "$2" "$TMP/$1.txt" || missing+=("$1: $3 '$2'")
}

# ckptctl: commands are the indented first words of --help's command lists, options its --long
# options.
help=$("$CKPTCTL" --help)
verbs=$(sed -n '/commands:$/,/^$/p' <<<"$help" | sed -n 's/^  \([a-z][a-z-]*\).*/\1/p' | sort -u)
[ "$(wc -l <<<"$verbs")" -ge 10 ] || fail "could not find the commands in ckptctl --help: $verbs"
for v in $verbs; do need ckptctl.8 "$v" "command"; done
for o in $(grep -o -- '--[a-z][a-z-]*' <<<"$help" | sort -u); do need ckptctl.8 "$o" "option"; done
for code in "0 " "1 " "2 " "3 "; do need ckptctl.8 "$code" "exit status"; done
need ckptctl.8 CKPTD_SOCKET "environment variable"

# The completion offers every command.
completion=$(sed -n "s/^[[:space:]]*local verbs='\(.*\)'/\1/p" "$SOURCE_DIR/client/ckptctl.bash-completion")
for v in $verbs; do
	grep -qw -- "$v" <<<"$completion" || missing+=("client/ckptctl.bash-completion: command '$v'")
done

# ckptd options.
for o in $("$CKPTD" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do need ckptd.8 "$o" "option"; done

# Configuration keys and sections, from the parser's tables.
keys=$(sed -n 's/^[[:space:]]*{ "\([A-Za-z]*\)", "\([A-Za-z]*\)",.*/\1 \2/p' "$SOURCE_DIR/common/config.c")
[ "$(wc -l <<<"$keys")" -ge 15 ] || fail "could not find the key tables in common/config.c"
while read -r section key; do
	need ckptd.conf.5 "$key=" "key of [$section]"
	need ckptd.conf.5 "[$(tr a-z A-Z <<<"$section")] SECTION" "section"
done <<<"$keys"

# JSON fields: pair objects (DESIGN.md's example), containers and status (the interface).
for f in container id state created tag frozen_usec timings freeze_usec snapshot_usec dump_usec \
	thaw_usec volumes backend source snapshot images bytes files criu_version; do
	need ckptctl.8 "$f" "pair field"
done
# timings.criu_phases: every key the codec knows (common/pair-record.c's table).
phases=$(sed -n '/criu_phase_keys\[\] = {/,/^};/s/^[[:space:]]*{ "\([a-z_]*\)".*/\1/p' "$SOURCE_DIR/common/pair-record.c")
[ "$(wc -w <<<"$phases")" -ge 8 ] || fail "could not find the CRIU phases in common/pair-record.c: $phases"
for f in criu_phases $phases; do need ckptctl.8 "$f" "pair field"; done
iface=$SOURCE_DIR/common/io.ckptd.Manager.varlink
fields=$(python3 - "$iface" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
names = set()
for block in re.findall(r"type (?:ContainerInfo|Job) \((.*?)\n\)", text, re.S):
    names |= set(re.findall(r"^\s*([a-z_]+):", block, re.M))
status = re.search(r"method Status\(\) -> \((.*?)\)\n", text)
names |= set(re.findall(r"([a-z_]+):", status.group(1)))
print("\n".join(sorted(names)))
EOF
)
[ -n "$fields" ] || fail "could not read ContainerInfo/Job/Status from $iface"
for f in $fields; do need ckptctl.8 "$f" "containers/status field"; done

# MESSAGE_IDs that ckptd really logs.
while read -r name id; do
	grep -rq --include='*.c' "$name" "$SOURCE_DIR/daemon" && need ckptd.8 "$id" "MESSAGE_ID $name"
done < <(sed -n 's/^#define \(CKPTD_MESSAGE_[A-Z_]*\) "\([0-9a-f]*\)"/\1 \2/p' "$SOURCE_DIR/common/log.h")

if [ ${#missing[@]} -gt 0 ]; then
	printf '  %s\n' "${missing[@]}" >&2
	fail "${#missing[@]} thing(s) not documented (above)"
fi
info "ok: $(wc -w <<<"$verbs") commands, $(wc -l <<<"$keys") keys, $(wc -w <<<"$fields") fields checked"
