#!/usr/bin/env bash
# Run every benchmark of the repository and write one results table.
#
#   bash benchmarks/run.sh [--quick] [--only NAME...]
#
# 1. makes/updates .venv with the package (as scripts/test.sh does);
# 2. creates the anchor environments once (.venv-bench-*, from the package registries) and
#    exports HDMF_LINDI_BENCH_*_PYTHON (an anchor that cannot be made is "not available");
# 3. runs each benchmarks/bench_NAME.py (or the NAMEs after --only) with
#    --workdir benchmarks/results/work --json benchmarks/results/NAME.json [--quick],
#    going on past a failing one;
# 4. writes benchmarks/results/latest.md and latest.json (date, commit, versions, machine,
#    every row), and exits non-zero if any benchmark failed.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=()
only=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=(--quick) ;;
        --only)
            shift
            while [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; do only+=("$1"); shift; done
            continue ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (use --quick, --only NAME...)" >&2; exit 2 ;;
    esac
    shift
done

set -e
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[test]" 2> >(grep -v '^WARNING: Location' >&2)
anchors="$(.venv/bin/python benchmarks/_anchors.py)"
eval "$anchors"
set +e

results=benchmarks/results
mkdir -p "$results/work"
names=()
if [ ${#only[@]} -gt 0 ]; then
    names=("${only[@]}")
else
    for script in benchmarks/bench_*.py; do
        name="$(basename "$script" .py)"
        names+=("${name#bench_}")
    done
fi

started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
failed=()
for name in "${names[@]}"; do
    script="benchmarks/bench_${name}.py"
    out="$results/${name}.json"
    rm -f "$out"
    if [ ! -f "$script" ]; then
        echo "== $name: no such benchmark ($script)" >&2
        failed+=("$name")
        continue
    fi
    echo "== $name: .venv/bin/python $script --workdir $results/work --json $out ${quick[*]}"
    t0=$SECONDS
    .venv/bin/python "$script" --workdir "$results/work" --json "$out" "${quick[@]}" 2>&1 \
        | tee "$results/${name}.log"
    status=${PIPESTATUS[0]}
    echo "== $name: exit $status after $((SECONDS - t0)) s"
    if [ "$status" -ne 0 ] || [ ! -f "$out" ]; then
        failed+=("$name")
    fi
done

.venv/bin/python benchmarks/_summary.py --results "$results" --started "$started" \
    --load-before "$load_before" --command "bash benchmarks/run.sh ${quick[*]} ${only[*]:+--only ${only[*]}}" \
    --failed "${failed[@]}" -- "${names[@]}"
summary_status=$?
if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED benchmarks: ${failed[*]} (see $results/<name>.log)" >&2
    exit 1
fi
exit $summary_status
