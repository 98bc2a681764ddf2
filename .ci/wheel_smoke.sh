#!/usr/bin/env bash
# Build the sdist and the wheel, install the wheel into a fresh venv and use it from outside the source
# tree: the installed package alone must list its variants (entry points, ganlab_plugins), train and
# evaluate (the shipped classifier weights), sample from the saved run, and load a plugin from a file.
#
#   bash .ci/wheel_smoke.sh    # 75 s on a quiet 2-core machine; needs `build` (pip install build)
#
# MNIST comes from the ganlab cache like any run (acquired and verified on first use).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)

python -c "import build" 2>/dev/null || { echo "wheel_smoke: needs the 'build' package: pip install build" >&2; exit 2; }
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "wheel_smoke: run it in a git checkout of ganlab" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

step() { echo "wheel_smoke [${SECONDS}s]: $*"; }

step "building the sdist and the wheel"
# From a copy of the files git knows (tracked, or new and not ignored): the build writes build/ and
# ganlab.egg-info/, and an egg-info left in the checkout would shadow the installed entry points.
mkdir "$work/src"
git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null \
    | tar -xf - -C "$work/src"
python -m build --outdir "$work/dist" "$work/src" >"$work/build.log" 2>&1 || { cat "$work/build.log"; exit 1; }
if grep -qi "deprecat" "$work/build.log"; then  # setuptools announces future build failures this way
    grep -i -A3 "deprecat" "$work/build.log" >&2; echo "wheel_smoke: the build warns of a deprecation; fix pyproject.toml" >&2; exit 1
fi
wheel=$(ls "$work"/dist/ganlab-*.whl)
ls -l "$work"/dist

# What the wheel must hold besides the code: the evaluation classifiers and the built-in variants.
listing=$(python -m zipfile -l "$wheel")
for needed in ganlab/weights/mnist-cnn.pt ganlab/weights/mnist-cnn.json ganlab_plugins/cgan.py \
              ganlab/data/mnist.py entry_points.txt; do
    grep -q "$needed" <<<"$listing" || { echo "wheel_smoke: the wheel lacks $needed" >&2; exit 1; }
done

step "installing the wheel into a fresh venv"
python3 -m venv "$work/venv"
# The CPU build of torch first (on disk here); a plain install would fetch a CUDA build.
"$work/venv/bin/python" -m pip install -q torch==2.13.0
"$work/venv/bin/python" -m pip install -q "$wheel"
export PATH="$work/venv/bin:$PATH"
unset PYTHONPATH
cd "$work"  # away from the checkout: nothing may be imported from the source tree

location=$(python -c "import ganlab, ganlab_plugins; print(ganlab.__file__, ganlab_plugins.__file__)")
case "$location" in
    *"$work/venv/"*"$work/venv/"*) ;;
    *) echo "wheel_smoke: ganlab was imported from outside the fresh venv: $location" >&2; exit 1 ;;
esac

step "ganlab variants"
variants=$(ganlab variants)
echo "$variants"
for name in gan cgan dcgan wgan-gp acgan projection hinge infogan ema r1; do
    grep -qw -- "$name" <<<"$variants" || { echo "wheel_smoke: variant $name is not listed" >&2; exit 1; }
done

step "ganlab run (20 steps, evaluated with the shipped classifier)"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
ganlab run --variant cgan --steps 20 --log-every 10 --sample-every 10 --final-eval-samples 500 \
    --seed 0 --device cpu --out run-cgan
for file in config.json losses.csv final_grid.png metrics.json checkpoints/step_000020.pt; do
    [ -s "run-cgan/$file" ] || { echo "wheel_smoke: the run did not write $file" >&2; exit 1; }
done
ganlab sample run-cgan --out sevens.png --label 7 --n 10
[ -s sevens.png ] || { echo "wheel_smoke: ganlab sample wrote nothing" >&2; exit 1; }

step "ganlab run --plugin (a loss plugin from a .py file, in front of the built-in gan)"
cp "$repo/examples/ganlab-lsgan/ganlab_lsgan.py" .
ganlab run --plugin ganlab_lsgan.py --variant gan+ganlab_lsgan --steps 20 --log-every 10 --sample-every 10 \
    --final-eval-samples 0 --seed 0 --device cpu --out run-lsgan
[ -s run-lsgan/plugins/ganlab_lsgan.py ] || { echo "wheel_smoke: the plugin run did not keep its plugin file" >&2; exit 1; }

step "passed: $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB) installs and runs"
