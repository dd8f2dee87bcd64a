#!/usr/bin/env bash
# The GPU benchmarks in one go, on a CUDA machine whose python3 has the project's dependencies and its `gpu` extra
# (bitsandbytes, liger-kernel). Each benchmark writes its log (and train_bench its JSON) into OUT_DIR; one failing
# does not stop the others, and each has its own time limit (BENCH_TIMEOUT seconds, default 600).
#
#   bash benchmarks/gpu.sh [OUT_DIR] [NAME ...]     NAME: train-1.5b train-7b train-7b-qlora bot-0.5b (default: all,
#                                                   in that order: the most informative first)
#
# Targets they print: the Qwen2.5-1.5B shape at >= 10x the stock padded recipe, >= 25,000 real tok/s and <= 8 GiB;
# the 7B shape >= 10,000 tok/s at <= 24 GiB; QLoRA 7B <= 12 GiB; the bot's p95 latency under load <= 1.5x an idle
# reply on the 0.5B shape. bot-0.5b trains the tiny clone first if there is none (its prompts and tokenizer).
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/bench-gpu}
shift || true
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(train-1.5b bot-0.5b train-7b train-7b-qlora)
py=${PYTHON:-python3}
mkdir -p "$out"
"$py" -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name())" \
  || exit 1

run() {
  local name=$1
  shift
  echo "== $name: $*"
  PYTHONUNBUFFERED=1 timeout "${BENCH_TIMEOUT:-600}" "$py" "$@" 2>&1 | tee "$out/$name.log"
  echo "== $name: exit ${PIPESTATUS[0]}"
}

for name in "${names[@]}"; do
  case $name in
    train-1.5b) run "$name" benchmarks/train_bench.py --shape qwen2.5-1.5b --steps 10 --json "$out/$name.json" ;;
    train-7b) run "$name" benchmarks/train_bench.py --shape qwen2.5-7b --steps 5 --json "$out/$name.json" ;;
    train-7b-qlora) run "$name" benchmarks/train_bench.py --shape qwen2.5-7b --method qlora --steps 5 \
                      --json "$out/$name.json" ;;
    bot-0.5b) run "$name" benchmarks/bot_bench.py --shape qwen2.5-0.5b --no-baseline --repeat 2 ;;
    *) echo "unknown benchmark: $name" >&2; exit 2 ;;
  esac
done
