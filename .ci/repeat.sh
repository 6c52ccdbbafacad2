#!/usr/bin/env bash
# Runs one test (or one test binary) N times in a row and reports each run that failed,
# with its failing tests and their panic lines: a test must pass every time, not most times.
#
#   .ci/repeat.sh N CARGO_TEST_ARGS... [-- TEST_ARGS...]
#   .ci/repeat.sh 20 -p gig-tests --test limit_rebalance
#   .ci/repeat.sh 10 -p gig-tests --test service -- a_second_signal
#
# The tests are built once, with the environment given (GIGCI_TEST_BROKERS and the rest, as
# for cargo test), and copied aside, so that a rebuild meanwhile changes nothing; each run
# starts them as cargo test would. Each run's output is kept in $GIGCI_REPEAT_DIR (a fresh
# temporary directory by default), named by its number. Exits 1 unless every run passed.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:?usage: .ci/repeat.sh N CARGO_TEST_ARGS... [-- TEST_ARGS...]}
shift
cargo_args=() test_args=()
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do cargo_args+=("$1"); shift; done
[ "$#" -gt 0 ] && shift && test_args=("$@")
[ "${#cargo_args[@]}" -gt 0 ] || { echo "usage: .ci/repeat.sh N CARGO_TEST_ARGS... [-- TEST_ARGS...]" >&2; exit 2; }
DIR=${GIGCI_REPEAT_DIR:-$(mktemp -d -t gig-repeat.XXXXXX)}
mkdir -p "$DIR/bin"

# Each test binary with the directory cargo test runs it in (its package's).
cargo test --no-run --message-format=json "${cargo_args[@]}" 2>"$DIR/build.log" >"$DIR/build.json" || {
  cat "$DIR/build.log" >&2
  exit 1
}
python3 - "$DIR" <<'EOF' >"$DIR/tests.txt"
import json, os, shutil, sys
out = sys.argv[1]
for line in open(os.path.join(out, "build.json")):
    msg = json.loads(line)
    exe = msg.get("executable")
    if msg.get("reason") == "compiler-artifact" and exe and msg.get("profile", {}).get("test"):
        copy = os.path.join(out, "bin", os.path.basename(exe))
        shutil.copy2(exe, copy)
        print(copy, os.path.dirname(msg["manifest_path"]), sep="\t")
EOF
[ -s "$DIR/tests.txt" ] || { echo "no test binary matches: ${cargo_args[*]}" >&2; exit 2; }

passed=0 failed=""
for run in $(seq 1 "$N"); do
  log="$DIR/run-$run.log"
  t0=$(date +%s)
  status=0
  : >"$log"
  while IFS=$'\t' read -r exe dir; do
    (cd "$dir" && "$exe" "${test_args[@]}") >>"$log" 2>&1 || status=$?
  done <"$DIR/tests.txt"
  took=$(( $(date +%s) - t0 ))
  if [ "$status" = 0 ]; then
    passed=$((passed + 1))
    echo "run $run/$N: ok (${took}s)"
  else
    failed="$failed $run"
    echo "run $run/$N: FAILED (${took}s): $log"
    # The failing tests, then each one's panic message.
    sed -n 's/^test \(.*\) \.\.\. FAILED$/  failed: \1/p' "$log"
    grep -E "panicked at" -A3 "$log" | sed 's/^/    /' | head -40 || true
  fi
done

echo "passed $passed/$N${failed:+; failed runs:$failed}; logs in $DIR"
[ "$passed" = "$N" ]
