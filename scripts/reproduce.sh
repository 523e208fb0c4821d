#!/usr/bin/env bash
# Reproduce the paper's pipeline on one split of UCF101 or HMDB51, from raw videos:
#
#   1. frames    raw frames + TV-L1 optical flow (JPEG folders img_/flow_x_/flow_y_)
#   2. rgb       TSN spatial stream   (scripts/train_baseline.py, builtin:tsn/<dataset>_rgb.yaml)
#   3. flow      TSN temporal stream  (builtin:tsn/<dataset>_flow.yaml)
#   4. features  per-frame features + logits, T frames x V crops (scripts/extract_features.py)
#   5. tsn_eval  TSN baseline accuracy (all T frames, per stream and fused)
#   6. as        attention-aware sampling agent per stream + fused evaluation
#                (scripts/train_reinforce.py --stream both)
#
# Usage:  DATA_ROOT=/data/UCF-101 SPLITS_DIR=/data/ucfTrainTestlist \
#             bash scripts/reproduce.sh ucf101 1
#
# Every step is resumable: rerunning the same command skips finished work (existing frame
# folders, finished training checkpoints, stored feature parts) and continues the rest.
# See docs/REPRODUCE.md for the paper's numbers at each step and time estimates.
#
# Environment overrides (defaults in brackets):
#   DATA_ROOT     video root with class folders (required for the frames step)
#   SPLITS_DIR    official split files: ucfTrainTestlist/ or hmdb51 *_test_split<k>.txt (required)
#   WORK          output folder [runs/reproduce/<dataset>_split<k>]
#   PYTHON        interpreter [python]
#   STEPS         comma-separated steps to run [frames,rgb,flow,features,tsn_eval,as]
#   FLOW          optical flow: tvl1 (paper), dis (fast), farneback [tvl1]
#   FRAME_W FRAME_H  stored frame size [340 256];  CROP  network input size [224]
#   KINETICS=1    use builtin:tsn/<dataset>_<stream>_kinetics.yaml (30 epochs) [0]
#   TSN_CONFIG_RGB / TSN_CONFIG_FLOW   config files (override the two above)
#   ARCH          backbone for both streams, a name of frame_select_env.pipeline.archs.ARCHS (the
#                 registry; `python scripts/train_baseline.py --help` lists them) [config]
#   ARCH_KWARGS   YAML mapping of backbone options, e.g. "{feature_dim: 32, width: 8}" [config]
#   EPOCHS_RGB EPOCHS_FLOW  epochs [config: 80 / 340];  LR_STEPS_RGB LR_STEPS_FLOW  e.g. "30 60"
#   BATCH LR SEGMENTS SEED  TSN batch size, learning rate, K, seed [config]
#   PRETRAINED_RGB PRETRAINED_FLOW  initial weights (ImageNet / Kinetics files) [none]
#   TSN_ARGS      extra arguments for both train_baseline.py runs (e.g. "--set amp=false")
#   NPROC         GPUs for TSN training via torchrun [1]
#   DEVICE        auto, cpu, cuda [auto];  WORKERS  loader/decoder processes [8]
#   T VIEWS L     sampled frames, crops per frame (1 or 10), flow fields per stack [25 10 5]
#   EXTRACT_ARGS  extra arguments for extract_features.py
#   AS_CONFIG     agent config [builtin:as_paper.yaml];  AS_ARGS  extra train_reinforce.py args
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: [VAR=...] bash scripts/reproduce.sh ucf101|hmdb51 SPLIT(1..3)" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
DATASET=$1
SPLIT=$2
[[ "$DATASET" == ucf101 || "$DATASET" == hmdb51 ]] || usage
[[ "$SPLIT" =~ ^[123]$ ]] || usage

PYTHON=${PYTHON:-python}
WORK=${WORK:-runs/reproduce/${DATASET}_split${SPLIT}}
STEPS=${STEPS:-frames,rgb,flow,features,tsn_eval,as}
FLOW=${FLOW:-tvl1}
FRAME_W=${FRAME_W:-340}
FRAME_H=${FRAME_H:-256}
CROP=${CROP:-224}
KINETICS=${KINETICS:-0}
SUFFIX=""
[[ "$KINETICS" == 1 ]] && SUFFIX="_kinetics"
TSN_CONFIG_RGB=${TSN_CONFIG_RGB:-builtin:tsn/${DATASET}_rgb${SUFFIX}.yaml}
TSN_CONFIG_FLOW=${TSN_CONFIG_FLOW:-builtin:tsn/${DATASET}_flow${SUFFIX}.yaml}
NPROC=${NPROC:-1}
DEVICE=${DEVICE:-auto}
WORKERS=${WORKERS:-8}
T=${T:-25}
VIEWS=${VIEWS:-10}
L=${L:-5}
AS_CONFIG=${AS_CONFIG:-builtin:as_paper.yaml}
: "${SPLITS_DIR:?set SPLITS_DIR to the folder with the official split files}"

FRAMES=$WORK/frames
STORE=$WORK/features_T${T}_V${VIEWS}.h5
mkdir -p "$WORK/lists"

has_step() { [[ ",$STEPS," == *",$1,"* ]]; }
log() { echo "[reproduce $(date -u +%H:%M:%S)] $*"; }

# Lists of the raw-frame folders (paths without .avi) for feature extraction: the extractor then
# reads the stored TV-L1 flow instead of recomputing it.
"$PYTHON" - "$DATASET" "$SPLITS_DIR" "$SPLIT" "$WORK/lists" <<'EOF'
import os
import sys
from pathlib import Path

from frame_select_env.pipeline.datasets import load_dataset

name, splits, split, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
records, classes = load_dataset(name, splits, split)


def write(path, lines):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    os.replace(tmp, path)


write(out / "classes.txt", classes)
write(out / "rawframes.txt",
      [f"{Path(r.path).with_suffix('').as_posix()} {r.label} {r.split}" for r in records])
n_train = sum(r.split == "train" for r in records)
print(f"{name} split {split}: {n_train} train / {len(records) - n_train} test videos, "
      f"{len(classes)} classes")
EOF

if has_step frames; then
    : "${DATA_ROOT:?set DATA_ROOT to the folder with the videos (class sub-folders)}"
    log "1/6 raw frames + $FLOW flow -> $FRAMES"
    # shellcheck disable=SC2086
    "$PYTHON" scripts/extract_features.py --dataset "$DATASET" --splits "$SPLITS_DIR" \
        --split "$SPLIT" --root "$DATA_ROOT" --rawframes-out "$FRAMES" --flow "$FLOW" \
        --size "$FRAME_W" "$FRAME_H" --workers "$WORKERS"
fi

train_stream() {  # $1 = rgb|flow, $2 = config
    local stream=$1 config=$2 epochs lr_steps pretrained
    local args=(--config "$config" --stream "$stream" --dataset "$DATASET" --splits "$SPLITS_DIR"
                --split "$SPLIT" --frames-root "$FRAMES" --out "$WORK/tsn_$stream"
                --device "$DEVICE" --workers "$WORKERS" --crop-size "$CROP")
    if [[ "$stream" == rgb ]]; then
        epochs=${EPOCHS_RGB:-}; lr_steps=${LR_STEPS_RGB:-}; pretrained=${PRETRAINED_RGB:-}
    else
        epochs=${EPOCHS_FLOW:-}; lr_steps=${LR_STEPS_FLOW:-}; pretrained=${PRETRAINED_FLOW:-}
        args+=(--set "flow_length=$L")
    fi
    [[ -n "${ARCH:-}" ]] && args+=(--arch "$ARCH")
    [[ -n "${ARCH_KWARGS:-}" ]] && args+=(--set "arch_kwargs=$ARCH_KWARGS")
    [[ -n "$epochs" ]] && args+=(--epochs "$epochs")
    # shellcheck disable=SC2206
    [[ -n "$lr_steps" ]] && args+=(--lr-steps $lr_steps)
    [[ -n "$pretrained" ]] && args+=(--pretrained "$pretrained")
    [[ -n "${BATCH:-}" ]] && args+=(--batch-size "$BATCH")
    [[ -n "${LR:-}" ]] && args+=(--lr "$LR")
    [[ -n "${SEGMENTS:-}" ]] && args+=(--num-segments "$SEGMENTS")
    [[ -n "${SEED:-}" ]] && args+=(--seed "$SEED")
    # shellcheck disable=SC2206
    [[ -n "${TSN_ARGS:-}" ]] && args+=($TSN_ARGS)
    if [[ "$NPROC" -gt 1 ]]; then
        "$PYTHON" -m torch.distributed.run --standalone --nproc_per_node "$NPROC" \
            scripts/train_baseline.py "${args[@]}"
    else
        "$PYTHON" scripts/train_baseline.py "${args[@]}"
    fi
}

if has_step rgb; then
    log "2/6 TSN spatial stream ($TSN_CONFIG_RGB) -> $WORK/tsn_rgb"
    train_stream rgb "$TSN_CONFIG_RGB"
fi
if has_step flow; then
    log "3/6 TSN temporal stream ($TSN_CONFIG_FLOW) -> $WORK/tsn_flow"
    train_stream flow "$TSN_CONFIG_FLOW"
fi

if has_step features; then
    log "4/6 features: T=$T frames x V=$VIEWS crops -> $STORE"
    # shellcheck disable=SC2086
    "$PYTHON" scripts/extract_features.py --list "$WORK/lists/rawframes.txt" \
        --classes "$WORK/lists/classes.txt" --root "$FRAMES" --out "$STORE" \
        --rgb-checkpoint "$WORK/tsn_rgb/model.pt" --flow-checkpoint "$WORK/tsn_flow/model.pt" \
        --num-frames "$T" --views "$VIEWS" --flow-length "$L" --size "$FRAME_W" "$FRAME_H" \
        --crop "$CROP" --device "$DEVICE" --workers "$WORKERS" --no-progress ${EXTRACT_ARGS:-}
fi

if has_step tsn_eval; then
    log "5/6 TSN baseline (all $T frames, $VIEWS crops), test split"
    "$PYTHON" -m frame_select_env.pipeline.tsn.evaluate --store "$STORE" --split test \
        --json "$WORK/tsn_eval.json"
fi

if has_step as; then
    if [[ ! -f scripts/train_reinforce.py ]]; then
        log "6/6 SKIPPED: scripts/train_reinforce.py is not in this checkout"
    else
        # one agent per stream (rgb, flow), then the test-split table: all frames vs random m vs
        # AS, per stream and fused, frame- and region-based (results_mean.csv)
        log "6/6 attention-aware sampling ($AS_CONFIG), rgb + flow + fused -> $WORK/as"
        resume=()
        compgen -G "$WORK/as/checkpoint_*.pt" > /dev/null && resume=(--resume)
        # shellcheck disable=SC2086
        "$PYTHON" scripts/train_reinforce.py --store "$STORE" --stream both \
            --config "$AS_CONFIG" --out "$WORK/as" ${resume[@]+"${resume[@]}"} ${AS_ARGS:-}
    fi
fi
log "done: outputs in $WORK"
