#!/usr/bin/env bash
# The GPU check: what to run the first time a CUDA GPU is lent. At most 8 minutes on one GPU; writes
# one summary, DIR/summary.json and DIR/summary.md (and each stage's raw output beside them).
#
#   bash benchmarks/gpu_check.sh [--out DIR]           # on a CUDA machine [default DIR: gpu-check]
#   bash benchmarks/gpu_check.sh --device cpu          # a scaled-down dry run of every stage on a CPU
#
# Stages, each with a time budget (a stage that runs over is cut and recorded as such, the rest go on):
#   1. the tests marked `cuda` (pytest -m cuda): each CUDA switch trains and is recorded; 2 GPUs, NCCL;
#   2. train_speed.py rows: gan, cgan, dcgan at batch 32 and 256; eager, --amp, --compile, --cuda-graphs;
#   3. the tutorial's full cgan run (20 000 steps, batch 32), timed end to end, with its metrics;
#   4. with 2+ GPUs: cgan on 2 GPUs through torchrun (global batch 32 and 256), against 1 GPU.
#
# Needs: python3 with torch (CUDA) and ganlab's dependencies; ganlab itself is installed (pip -e, no
# downloads) when it is not. MNIST must be in the ganlab cache: on a machine without internet, copy
# ~/.cache/ganlab/mnist.npz into a folder that travels with the repo and point GANLAB_DATA at it:
#   mkdir -p .gpu-data && cp ~/.cache/ganlab/mnist.npz .gpu-data/ && echo /.gpu-data/ >> .git/info/exclude
#   GANLAB_DATA=$PWD/.gpu-data bash benchmarks/gpu_check.sh --out "$OUT"
set -uo pipefail
cd "$(dirname "$0")/.."

device=cuda out=gpu-check
while [ $# -gt 0 ]; do
    case "$1" in
        --device) device=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        *) echo "usage: bash benchmarks/gpu_check.sh [--device cuda|cpu] [--out DIR]" >&2; exit 2 ;;
    esac
done
mkdir -p "$out"
export PYTHONUNBUFFERED=1
python=${PYTHON:-python3}
started=$SECONDS
log() { echo "gpu_check [$((SECONDS - started)) s]: $*"; }

# On a CPU everything is scaled down: a dry run of the stages, not a measurement.
if [ "$device" = cpu ]; then
    variants=gan batches=32 speed_steps=20 full_steps=200 full_eval=1000 multi_steps=60
    budget_tests=120 budget_speed=420 budget_full=120 budget_multi=120
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
else
    variants=gan,cgan,dcgan batches=32,256 speed_steps=200 full_steps=20000 full_eval=10000 multi_steps=2000
    budget_tests=100 budget_speed=190 budget_full=150 budget_multi=30   # 470 s of the 480
fi

$python -c "import ganlab_plugins" 2>/dev/null || $python -m pip install -q --no-deps --no-build-isolation -e . \
    > "$out/install.log" 2>&1 || { echo "gpu_check: cannot install ganlab (see $out/install.log)" >&2; exit 2; }
$python - "$device" > "$out/machine.json" <<'EOF' || exit 2
import json, os, sys, torch
device = sys.argv[1]
if device == "cuda" and not torch.cuda.is_available():
    sys.exit("gpu_check: torch sees no CUDA GPU here; use --device cpu for a dry run")
print(json.dumps({"device": device, "torch": torch.__version__, "cuda": torch.version.cuda,
                  "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
                  "bf16": device == "cuda" and torch.cuda.is_bf16_supported(), "cpus": os.cpu_count()}))
EOF
gpus=$($python -c "import torch; print(torch.cuda.device_count())")

log "1. the tests marked cuda (budget ${budget_tests} s)"
timeout "$budget_tests" $python -m pytest -m cuda -q -p no:cacheprovider -rs --junitxml="$out/tests.xml" tests/ \
    > "$out/tests.log" 2>&1
echo $? > "$out/tests.rc"

log "2. train_speed.py rows (budget ${budget_speed} s)"
: > "$out/speed.jsonl"
deadline=$((SECONDS + budget_speed))
for variant in ${variants//,/ }; do  # the small MLP variants first: graphs are for them
    for batch in ${batches//,/ }; do
        for mode in eager amp compile cuda-graphs; do  # compile first: graphs then reuse its cached kernels
            flag=$([ "$mode" = eager ] || echo "--$mode")
            left=$((deadline - SECONDS))
            if [ "$left" -le 5 ]; then
                echo "{\"variant\": \"$variant\", \"batch_size\": $batch, \"mode\": \"$mode\", \"skipped\": \"out of time\"}" \
                    >> "$out/speed.jsonl"
                continue
            fi
            # One row in its own process; the baseline (a DataLoader loop) is left out for time.
            row=$(timeout "$left" $python benchmarks/train_speed.py --_one "$variant,$batch" --device "$device" \
                  --steps "$speed_steps" --warmup 10 --rounds 2 --no-baseline $flag 2>> "$out/speed.log" | tail -n 1)
            if [ -n "$row" ] && [ "${row:0:1}" = "{" ]; then
                echo "$row" | $python -c "import json,sys; r=json.load(sys.stdin); r['mode']='$mode'; print(json.dumps(r))" \
                    >> "$out/speed.jsonl"
            else
                echo "{\"variant\": \"$variant\", \"batch_size\": $batch, \"mode\": \"$mode\", \"failed\": true}" \
                    >> "$out/speed.jsonl"
            fi
        done
    done
done

log "3. the full cgan run: $full_steps steps (budget ${budget_full} s)"
rm -rf "$out/cgan-full"
full_started=$SECONDS
# (timeout sends SIGTERM: a run cut by the budget stops cleanly, with a checkpoint, and says at which step)
timeout "$budget_full" $python -m ganlab run --variant cgan --steps "$full_steps" --seed 0 --device "$device" \
    --final-eval-samples "$full_eval" --out "$out/cgan-full" > "$out/full.log" 2>&1
echo "{\"rc\": $?, \"wall_s\": $((SECONDS - full_started)), \"steps\": $full_steps}" > "$out/full.json"

log "4. several processes (budget ${budget_multi} s)"
if [ "$device" = cpu ] || [ "$gpus" -ge 2 ]; then
    processes=2
    [ "$device" = cpu ] && multi_threads=1 || multi_threads=4
    timeout "$budget_multi" $python benchmarks/processes.py --variant cgan --batch-sizes "${batches}" \
        --steps "$multi_steps" --processes "$processes" --rounds 1 --device "$device" \
        --threads $((multi_threads * processes)) --json "$out/multi.json" > "$out/multi.log" 2>&1
    echo $? > "$out/multi.rc"
else
    echo "skipped: $gpus GPU(s)" > "$out/multi.log"
fi

log "summary"
$python - "$out" "$device" <<'EOF'
"""Gather every stage's output into summary.json and summary.md."""
import json, re, sys, xml.etree.ElementTree as ET
from pathlib import Path

out, device = Path(sys.argv[1]), sys.argv[2]
read = lambda name: (out / name).read_text() if (out / name).exists() else ""
summary = {"machine": json.loads(read("machine.json")), "dry_run_on_cpu": device == "cpu"}

tests = {"rc": int(read("tests.rc") or -1)}
if (out / "tests.xml").exists():
    suite = ET.parse(out / "tests.xml").getroot().find("testsuite")
    tests.update({key: int(suite.get(key, 0)) for key in ("tests", "failures", "errors", "skipped")})
    tests["failed"] = [case.get("name") for case in suite.iter("testcase")
                       if case.find("failure") is not None or case.find("error") is not None]
summary["cuda_tests"] = tests

speed = [json.loads(line) for line in read("speed.jsonl").splitlines() if line.strip()]
summary["train_speed"] = speed

full = json.loads(read("full.json") or "{}")
ended = re.search(r"Training (\w+) at step (\d+) after ([\d.]+) s \(([\d.]+) ms/step\)", read("full.log"))
if ended:
    full.update(outcome=ended[1], steps_done=int(ended[2]), train_s=float(ended[3]), ms_per_step=float(ended[4]))
metrics = out / "cgan-full" / "metrics.json"
full["metrics"] = json.loads(metrics.read_text()) if metrics.exists() else None
summary["full_cgan_run"] = full

summary["several_processes"] = json.loads(read("multi.json")) if read("multi.json") else read("multi.log").strip()
(out / "summary.json").write_text(json.dumps(summary, indent=2))

md = [f"# GPU check ({'dry run on a CPU, scaled down' if device == 'cpu' else device})", "",
      f"machine: {summary['machine']}", "",
      f"## cuda-marked tests: rc {tests['rc']}, {tests.get('tests', '?')} tests, "
      f"{tests.get('failures', '?')} failures, {tests.get('errors', '?')} errors, {tests.get('skipped', '?')} skipped",
      "", "## train_speed.py", "", "| variant | batch | mode | ms/step | steps/s | set-up + warm-up s | peak MB |",
      "|---|---|---|---|---|---|---|"]
for r in speed:
    if "ms_per_step_median" in r:
        peak = r["peak_cuda_mb"] if r.get("peak_cuda_mb") is not None else r["peak_rss_mb"]
        md.append(f"| {r['variant']} | {r['batch_size']} | {r['mode']} | {r['ms_per_step_median']:.3f} | "
                  f"{r['steps_per_s']:.0f} | {r['setup_and_warmup_s']:.1f} | {peak:.0f} |")
    else:
        md.append(f"| {r['variant']} | {r['batch_size']} | {r['mode']} | {r.get('skipped', 'failed')} | | | |")
m = full.get("metrics") or {}
md += ["", f"## full cgan run: {full.get('steps_done', '?')} of {full.get('steps')} steps ({full.get('outcome', '?')}), "
       f"rc {full.get('rc')}, {full.get('wall_s')} s end to end, {full.get('train_s', '?')} s training "
       f"({full.get('ms_per_step', '?')} ms/step)",
       "", f"metrics: {json.dumps({k: v for k, v in m.items() if isinstance(v, (int, float))})}", "",
       "## several processes", ""]
several = summary["several_processes"]
if isinstance(several, list):
    md += ["| batch | processes | steps/s | samples/s |", "|---|---|---|---|"]
    md += [f"| {r['batch_size']} | {r['processes']} | {r['steps_per_s']:.1f} | {r['samples_per_s']:.0f} |" for r in several]
else:
    md.append(several or "no result")
(out / "summary.md").write_text("\n".join(md) + "\n")
print("\n".join(md))
EOF
log "done: $out/summary.json, $out/summary.md"
