#!/usr/bin/env bash
# Accelerator check (about 8 minutes on one GPU): the loop benchmark for SemEval and PubMed,
# the step benchmark of the shape and LSTM switches, and a 10-epoch SemEval run, printing
# epoch time and samples/s.
#
#   bash tools/device_check.sh
#
# Run from the repository root with the package installed (pip install -e ".[cuda12]" on a
# GPU, ".[tpu]" on a TPU VM). Environment overrides, for a quick run elsewhere (CPU):
#   CHECK_OUT=DIR            where reports and the training workdir go (default: a temp dir)
#   CHECK_EPOCHS=10          epochs of the SemEval training run
#   CHECK_PUBMED_EXAMPLES=0  PubMed train records in its loop benchmark (0 = all)
#   CHECK_EXTRA="..."        extra flags for every command (e.g. "--config.max_train_examples=200")
#   CHECK_SKIP_PUBMED=1      skip PubMed (its data missing)
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
OUT="${CHECK_OUT:-$(mktemp -d)}"
EPOCHS="${CHECK_EPOCHS:-10}"
PUBMED_EXAMPLES="${CHECK_PUBMED_EXAMPLES:-0}"
read -r -a EXTRA <<< "${CHECK_EXTRA:-}"
mkdir -p "$OUT"
python - <<'PY'
import jax
d = jax.devices()
print(f"backend {jax.default_backend()}: {len(d)} x {d[0].device_kind}", flush=True)
PY

summary() {  # prints the loop benchmark's main figures
  python - "$1" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read()[open(sys.argv[1]).read().index("{"):])
keys = ("config", "backend", "loop_samples_per_s", "step_samples_per_s", "loop_to_step_ratio",
        "epoch_seconds", "h2d_mb_per_step", "compile_count", "compile_seconds",
        "pipeline_batches_per_s", "peak_rss_mb")
print("  " + ", ".join(f"{k}={r.get(k)}" for k in keys), flush=True)
PY
}

echo "== loop benchmark: SemEval"
python tools/benchmark.py --config=configs/semeval.py --mode=loop --epochs=2 "${EXTRA[@]}" \
  2>"$OUT/semeval_bench.log" >"$OUT/semeval_bench.json"
summary "$OUT/semeval_bench.json"

if [[ "${CHECK_SKIP_PUBMED:-0}" != 1 ]]; then
  echo "== loop benchmark: PubMed (train records: ${PUBMED_EXAMPLES/#0/all})"
  python tools/benchmark.py --config=configs/pubmed.py --mode=loop --epochs=2 \
    --config.max_train_examples="$PUBMED_EXAMPLES" "${EXTRA[@]}" \
    2>"$OUT/pubmed_bench.log" >"$OUT/pubmed_bench.json"
  summary "$OUT/pubmed_bench.json"
fi

echo "== step benchmark: SemEval shapes and LSTM (model.lstm_impl, batch_row_multiple, width_multiple, dtype)"
for variant in "" "--config.model.lstm_impl=hoisted" "--config.batch_row_multiple=8" \
    "--config.model.width_multiple=128" "--config.model.dtype=bfloat16" \
    "--config.model.dtype=bfloat16 --config.model.width_multiple=128 --config.batch_row_multiple=8"; do
  read -r -a V <<< "$variant"
  python tools/benchmark.py --config=configs/semeval.py --steps=30 "${V[@]}" "${EXTRA[@]}" \
    2>"$OUT/variant.log" >"$OUT/variant.json"
  python - "$OUT/variant.json" "${variant:-default}" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
r = json.loads(text[text.index("{"):])
print(f"  {sys.argv[2]}: train {r['train_samples_per_s']} samples/s, eval "
      f"{r['eval_samples_per_s']} samples/s, compile {r['compile_seconds']} s", flush=True)
PY
done

echo "== SemEval training, $EPOCHS epochs"
python -m msfml_jax.main --config=configs/semeval.py --config.num_epochs="$EPOCHS" \
  --workdir="$OUT/semeval_run" "${EXTRA[@]}" 2>"$OUT/semeval_run.log" >/dev/null
python - "$OUT/semeval_run/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
epochs = [r for r in rows if r["split"] == "train_epoch"]
for r in epochs:
  m = r["metrics"]
  print(f"  epoch {r['epoch']}: {m['samples_per_s']:.0f} samples/s, loss {m['loss']:.3f}"
        + (f", epoch {m['epoch_seconds']:.1f} s" if "epoch_seconds" in m else ""), flush=True)
test = [r for r in rows if r["split"] == "test"]
if test:
  print(f"  last test macro_f1 {test[-1]['metrics'].get('macro_f1')}", flush=True)
PY
echo "reports in $OUT"
