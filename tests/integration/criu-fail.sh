#!/bin/sh
# A criu that fails at once, the way a broken installation does.
echo "criu-fail: injected failure" >&2
exit 1
