#!/usr/bin/env bash
# The main job on a fresh local tenant: create users with roles, delete one, list the deleted,
# restore it (its roles come back), and show a guardrail refusing to remove the last Global
# Administrator. Runs non-interactively in a temporary directory; nothing outside it is touched.
set -euo pipefail

cd "$(dirname "$0")/.."
P="$PWD/.venv/bin/provisioner"
DEMO_DIR="$(mktemp -d)"
trap 'rm -rf "$DEMO_DIR"' EXIT

export PROVISIONER_LOCAL_STATE="$DEMO_DIR/tenant.db"
export PROVISIONER_CONFIG="$DEMO_DIR/config.toml"
unset PROVISIONER_TENANT
printf '[execution]\njournal = "journal.jsonl"\n' > "$PROVISIONER_CONFIG"
D=contoso.onmicrosoft.com

# Each command is printed as it would be typed: arguments with spaces quoted, so it pastes.
quoted() { local a out=(); for a in "$@"; do [[ $a == *[[:space:]]* ]] && out+=("\"$a\"") || out+=("$a"); done; echo "${out[*]}"; }
step() { printf '\n$ provisioner %s\n' "$(quoted "$@")"; "$P" "$@"; }

step local init --seed-users 5 --seed 1
step users create "adele@$D" --display-name "Adele Vance" --job-title "Finance lead" --role billing --yes
step users create "megan@$D" --display-name "Megan Bowen" --role user --role password --yes
step users create "lee@$D" --display-name "Lee Gu" --role global --yes
step users list
step roles list
step users delete "megan@$D" --yes
step deleted list
step users restore "megan@$D" --yes
step roles members global

printf '\n$ provisioner users delete admin@%s --dry-run   # with lee gone, admin is the last one\n' "$D"
"$P" users delete "lee@$D" --yes >/dev/null 2>&1
set +e
"$P" users delete "admin@$D" --dry-run
code=$?
set -e
echo "(exit code $code: refused by a guardrail, nothing was written)"
echo
echo "Journal: $(wc -l < "$DEMO_DIR/journal.jsonl") writes recorded (no passwords)."
