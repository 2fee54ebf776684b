#!/usr/bin/env bash
# Print the path of a working Python X.Y interpreter: the newest pyenv build of X.Y first (pyenv's
# shims only run the globally selected version, so they are not used), then pythonX.Y on PATH.
# Usage: tests/ci/find_python.sh 3.12
set -euo pipefail
want=${1:?usage: find_python.sh X.Y}
check="import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)"
candidates=()
for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv /usr/local/pyenv /opt/pyenv; do
    [ -n "$root" ] && [ -d "$root/versions" ] || continue
    found=()
    for path in "$root"/versions/"$want"*/bin/python"$want"; do
        [ -x "$path" ] && found+=("$path")
    done
    [ "${#found[@]}" -gt 0 ] || continue
    while IFS= read -r path; do
        candidates+=("$path")
    done < <(printf '%s\n' "${found[@]}" | sort -V -r)
done
if on_path=$(command -v "python$want" 2>/dev/null); then
    candidates+=("$on_path")
fi
for candidate in "${candidates[@]}"; do
    if "$candidate" -c "$check" >/dev/null 2>&1; then
        echo "$candidate"
        exit 0
    fi
done
echo "find_python.sh: no working Python $want (looked in pyenv versions and PATH)" >&2
exit 1
