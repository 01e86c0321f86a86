#!/bin/sh
# docs/interop.md's walkthrough, run by `make check` (tests/cli/run.sh):
# a relevance tower pre-trained in PyTorch (scripts/fixtures/make_fixtures.py:
# pretrain, export_tower) imported from ONNX, fine-tuned on a device's clicks,
# served in int8, and sent back as safetensors.
#   TTRANK=path/to/ttrank FIXTURES=tests/fixtures/interop sh docs/examples/interop.sh
set -eu
T=${TTRANK:-ttrank}
FX=${FIXTURES:-tests/fixtures/interop}

# 1. The server's tower, from ONNX: the other towers start fresh.
$T import --onnx "$FX/pretrained_op17.onnx" --out tower.ttr

# 2. The device's items: 8 features ~ N(0,1), 300 queries of 10. Its users
#    want what the server's did (the tower learned 2 x1 + relu(x2) - x3 x4)
#    and also x5, which the server never saw matter.
awk 'BEGIN { srand(7); for (q = 1; q <= 300; q++) for (d = 0; d < 10; d++) {
    for (f = 1; f <= 8; f++) x[f] = sqrt(-2 * log(1 - rand())) * cos(6.2831853 * rand())
    r = 2 * x[1] + (x[2] > 0 ? x[2] : 0) - x[3] * x[4] + 1.5 * x[5]
    printf "%d qid:%d", (r > 2.5) + (r > 1), q
    for (f = 1; f <= 8; f++) printf " %d:%.4f", f, x[f]
    print "" } }' > device.txt

# 3. What its users clicked on the lists it showed (simulated here).
$T simulate --data device.txt --out clicks.clk --lists 12000 --seed 1

# 4. Learn on the device from the imported tower: the bias tower learns the
#    position effect, the relevance tower is fine-tuned; the champion (the
#    model in service) is written as f32 and int8 serving files and as a
#    train model at each promotion.
$T learn --init tower.ttr --clicks clicks.clk --state device.ckpt \
    --serve-out serve.ttr --int8-out serve8.ttr --model-out device.ttr --progress 0
$T eval --model tower.ttr --data device.txt     # the server's tower
$T eval --model serve8.ttr --data device.txt    # what the device serves now

# 5. And back: what the device learned, as safetensors for PyTorch.
$T export --model device.ttr --out device.safetensors
