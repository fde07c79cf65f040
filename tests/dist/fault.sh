#!/usr/bin/env bash
# A rank that hangs or is killed must end the whole job, with a named error, in bounded time.
#   fault.sh MPIRUN TEST_DIST MODE PATTERN LIMIT_S
# Runs `MPIRUN -np 2 TEST_DIST MODE` under an outer limit of 3 x LIMIT_S; passes when the job failed
# (not by the outer limit) within LIMIT_S seconds and its output matches PATTERN (extended regex).
set -u
mpirun=$1 exe=$2 mode=$3 pattern=$4 limit=$5
out=$(mktemp)
t0=$(date +%s)
timeout $((3 * limit)) "$mpirun" --oversubscribe --allow-run-as-root -np 2 "$exe" "$mode" >"$out" 2>&1
rc=$?
dt=$(( $(date +%s) - t0 ))
cat "$out"
echo "fault.sh: mode $mode: exit $rc after ${dt} s (limit ${limit} s)"
ok=1
if [ "$rc" -eq 0 ]; then echo "fault.sh: the job succeeded; expected it to end with an error"; ok=0; fi
if [ "$rc" -eq 124 ]; then echo "fault.sh: the job was still running after $((3 * limit)) s"; ok=0; fi
if [ "$dt" -gt "$limit" ]; then echo "fault.sh: the job took ${dt} s (> ${limit} s) to end"; ok=0; fi
if ! grep -Eq "$pattern" "$out"; then echo "fault.sh: no line matches '$pattern'"; ok=0; fi
rm -f "$out"
[ "$ok" -eq 1 ]
