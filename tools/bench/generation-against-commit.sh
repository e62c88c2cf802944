#!/usr/bin/env bash
# GenerationBenchmark at another commit and at this checkout, alternating, in one script (issue 12, point 7):
# prints each round's batch-1 and batch-32 tokens/s and the ratio this checkout / that commit.
#   tools/bench/generation-against-commit.sh [commit=d74337f] [rounds=3]
set -euo pipefail
cd "$(dirname "$0")/../.."
commit=${1:-d74337f}
rounds=${2:-3}
old=$(mktemp -d)/tunestream-$commit
git worktree add -q --detach "$old" "$commit"
trap 'git worktree remove --force "$old"' EXIT
classpath() { # the model module's classes and runtime classpath of a checkout
  (cd "$1" && ./mvnw -B -ntp -q -pl model -am compile >/dev/null \
    && ./mvnw -B -ntp -q -pl model dependency:build-classpath -Dmdep.outputFile=target/bench.cp >/dev/null \
    && echo "$1/model/target/classes:$(cat model/target/bench.cp)")
}
old_cp=$(classpath "$old")
new_cp=$(classpath "$PWD")
tokens() { # tokens/s (wall) of one batch size in a benchmark's output
  grep -E "KV cache   batch +$1:" | awk '{print $5}'
}
for round in $(seq 1 "$rounds"); do
  o=$(cd "$old" && java -cp "$old_cp" io.tunestream.model.bench.GenerationBenchmark models/demo-gpt2 128 64 0 3 2>/dev/null)
  n=$(java -cp "$new_cp" io.tunestream.model.bench.GenerationBenchmark models/demo-gpt2 128 64 0 3 2>/dev/null)
  for b in 1 32; do
    ob=$(tokens "$b" <<<"$o"); nb=$(tokens "$b" <<<"$n")
    printf 'round %d batch %2d: %s %8.1f tok/s, this checkout %8.1f tok/s, ratio %.2fx\n' \
      "$round" "$b" "$commit" "$ob" "$nb" "$(echo "$nb / $ob" | bc -l)"
  done
  # batch 1 decodes with prompt-lookup drafts where the checkout has them: the same row step by step too
  nl=$(grep -E "KV cache   batch +1 without prompt lookup:" <<<"$n" | awk '{print $8}' || true)
  if [ -n "$nl" ]; then
    printf 'round %d batch  1 without prompt lookup: this checkout %8.1f tok/s, ratio to %s %.2fx\n' \
      "$round" "$nl" "$commit" "$(echo "$nl / $(tokens 1 <<<"$o")" | bc -l)"
    grep -E "^prompt lookup .* / without" <<<"$n" | sed "s/^/round $round this checkout: /"
  fi
  grep -E "of the bound" <<<"$n" | sed "s/^/round $round this checkout: /"
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
