#!/bin/sh
# Prints Check's summary line of every test log under DIR and a total line
# "N passed, N failed".  Exit status 1 if any test failed or none ran.
dir=${1:-.}
passed=0; failed=0
for log in $(find "$dir" -name '*.log' -path '*tests*' ! -name 'test-suite.log' | sort); do
	line=$(grep -E '^[0-9]+%: Checks: [0-9]+' "$log" | tail -n 1)
	[ -n "$line" ] || continue
	echo "$(basename "$log" .log): $line"
	checks=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
	fails=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
	errs=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
	bad=$((fails + errs))
	passed=$((passed + checks - bad)); failed=$((failed + bad))
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
