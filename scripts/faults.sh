#!/usr/bin/env bash
# The fault suite's scoreboard: reads the log the fault tests append to (PGSNAP_FAULT_LOG) and
# prints, for each fault T1 to T38 of docs/reliability.md, whether every test registered under it
# survived. A fault with no test, or with a test that failed or skipped, is not survived.
set -euo pipefail
log="${1:?usage: faults.sh FAULT_LOG}"
touch "$log"
survived=0
echo "FAULT SUITE (docs/reliability.md):"
for n in $(seq 1 38); do
	id="T$n"
	ran=$(awk -v id="$id" '$1 != "figure" && $2 == id' "$log" | wc -l)
	bad=$(awk -v id="$id" '$1 != "figure" && $2 == id && $1 != "survived"' "$log" | wc -l)
	figure=$(awk -v id="$id" '$1 == "figure" && ($2 == id || $2 ~ "^"id"[a-z]" || $2 ~ "^"id"/" || $2 ~ "/"id"$") {sub(/^figure /, ""); print; exit}' "$log")
	if [ "$ran" -eq 0 ]; then
		status="no test"
	elif [ "$bad" -gt 0 ]; then
		status="NOT survived ($bad of $ran tests failed or skipped: $(awk -v id="$id" '$1 != "figure" && $2 == id && $1 != "survived" {print $3}' "$log" | tr '\n' ' '))"
	else
		status="survived ($ran tests)"
		survived=$((survived + 1))
	fi
	printf '  %-4s %s%s\n' "$id" "$status" "${figure:+ | $figure}"
done
echo "faults survived $survived/38"
