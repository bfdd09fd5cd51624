"""Pseudo-labelling throughput: epsam's batched SAM inference vs a naive per-prompt-set loop.

Example::

    python tools/benchmarks/pseudo_label_throughput.py --variant vit_b --num-images 4 \
        --prompt-sets 1 4 --out work_dirs/benchmarks/pseudo_label_throughput/vit_b.json
    python tools/benchmarks/pseudo_label_throughput.py --variant lite_medsam --num-images 16 \
        --prompt-sets 1 4 --out work_dirs/benchmarks/pseudo_label_throughput/lite_medsam.json

Both paths pseudo-label the same ``--num-images`` synthetic 512 px patches
(resized to SAM's frame: 1024 px for ViT-B, 256 px for LiteMedSAM) with the
same SAM weights (ViT-B and the tiny SAM: random stand-ins, speed does not
depend on them; LiteMedSAM: its bundled weights), each image carrying
``max(--prompt-sets)`` prompt sets (50 CAM-weighted points each, one set per
CAM channel, as class-wise or component-wise prompting does):

- naive (what EP-SAM's reference code does by calling ``SamPredictor`` once
  per prompt set): one image at a time, float32, the STOCK model (attention
  as ``segment_anything`` / TinyViT write it, no fused attention),
  ``set_image`` (the image encoder) run again for EVERY prompt set, then one
  decode; ``segment_anything.SamPredictor`` itself for ViT-family variants,
  :class:`~epsam.models.sam.SamMaskPredictor` for TinyViT ones (LiteMedSAM's
  min-max normalisation is not ``SamPredictor``'s);
- epsam: :class:`~epsam.pseudo_labels.sam_inference.BatchedSamPredictor`
  (the engine of ``PseudoLabelGenerator``, on SAM's one inference road
  :class:`~epsam.models.sam.SamMaskPredictor`): images read and encoded
  ``--batch-size`` at a time, the embedding shared by all the image's prompt
  sets; the variant's default attention (fused on real variants); with a
  GPU the encoder runs under bfloat16 autocast.

The two paths alternate, ``--batch-size`` images at a time (the first path
alternating too), so load from other jobs falls on both. Every step is
timed, so the cost for ``k`` prompt sets per image is the time
of the steps a run with ``k`` sets does (the first ``k`` sets: a ``k``-set
run does exactly that prefix of the work); all numbers come from this one run,
printed with the load average (before and after), torch threads and device.
The masks of the two paths are compared. ``--probe`` first times CPU options
of the encoder (inference mode, batching, channels-last, oneDNN, threads,
bf16) on a truncated encoder (3 of ViT-B's blocks, same 2:1 ratio of windowed
to global blocks) against the plain float32 forward.
"""
import argparse
import json
import os
import os.path as osp
import shutil
import tempfile
import time
from contextlib import nullcontext
from typing import Dict, List, Tuple

import cv2
import numpy as np
import torch
from prettytable import PrettyTable

from segment_anything import SamPredictor

import epsam  # noqa: F401
from epsam.apis import init_sam
from epsam.benchmarking.encoder_speed import encoder_flops, load_average, sam_weights_note
from epsam.benchmarking.memory import machine_info
from epsam.models.sam import SamMaskPredictor, build_sam
from epsam.models.sam.building.fused_attention import fused_attention_enabled
from epsam.models.sam.building.input_transform import SamInputTransform
from epsam.fileio.cam_store import save_cam, save_label_png
from epsam.fileio.items import PseudoLabelItem
from epsam.pseudo_labels.sam_inference import BatchedSamPredictor

PROMPT = dict(type='ProbabilisticPointPrompt', num_points=50)


# --- data -------------------------------------------------------------------------
def write_items(root: str, num_images: int, size: int, channels: int,
                seed: int = 0) -> List[PseudoLabelItem]:
    """Synthetic RGB patches with ``channels``-channel CAMs and a binary initial mask.

    CAM channel ``j`` is a blurred blob moved by ``j`` steps, so every prompt
    set draws different points; the initial mask is where any channel exceeds 0.5.
    """
    rng = np.random.default_rng(seed)
    items = []
    for index in range(num_images):
        stem = f'patch_{index:03d}'
        image = rng.integers(0, 255, (size // 8, size // 8, 3), dtype=np.uint8)
        image = cv2.GaussianBlur(cv2.resize(image, (size, size)), (0, 0), 3)
        yy, xx = np.mgrid[:size, :size] / size
        cams = []
        for j in range(channels):
            cy, cx = 0.3 + 0.4 * rng.random(), 0.3 + 0.4 * rng.random()
            cams.append(np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / 0.03))
        cam = np.stack(cams).astype(np.float32)
        img_path = osp.join(root, 'image', f'{stem}.png')
        os.makedirs(osp.dirname(img_path), exist_ok=True)
        if not cv2.imwrite(img_path, np.ascontiguousarray(image[..., ::-1])):
            raise OSError(f'could not write {img_path}')
        cam_path = osp.join(root, 'cams', f'{stem}.npz')
        mask_path = osp.join(root, 'masks', f'{stem}.png')
        save_cam(cam_path, cam, [0.9] * channels, [f'c{j}' for j in range(channels)], img_path)
        save_label_png(mask_path, (cam.max(0) > 0.5).astype(np.uint8))
        items.append(PseudoLabelItem(img_path, cam_path, mask_path))
    return items


# --- the two paths ----------------------------------------------------------------
def predictors(sam, channels: int, batch_size: int, device: str) -> List[BatchedSamPredictor]:
    """One predictor per prompt set (CAM channel); all share ``sam``."""
    return [BatchedSamPredictor(sam, PROMPT, batch_size=batch_size, device=device, seed=0,
                                cam_channel=j) for j in range(channels)]


def run_epsam(sam, items, channels: int, batch_size: int, device: str,
              autocast: bool) -> Dict:
    """epsam's path; ``seconds[j]`` = time of the work for prompt set ``j`` (set 0 also
    reads and encodes). Returns masks ``[image][set]`` too."""
    preds = predictors(sam, channels, batch_size, device)
    seconds, cpu = [0.0] * channels, [0.0] * channels
    masks = [[None] * channels for _ in items]
    amp = (torch.autocast(device_type='cuda', dtype=torch.bfloat16) if autocast
           else nullcontext())
    for start in range(0, len(items), batch_size):
        chunk = items[start:start + batch_size]
        for j, pred in enumerate(preds):
            began, cpu_began = time.perf_counter(), time.process_time()
            loaded = [pred.load(item) for item in chunk]
            if j == 0:
                with amp:
                    embeddings = preds[0].encode([one.image for one in loaded]).float()
            for offset, (one, embedding) in enumerate(zip(loaded, embeddings)):
                masks[start + offset][j] = pred.decode(embedding, one.prompts)[0]
            if device == 'cuda':
                torch.cuda.synchronize()
            seconds[j] += time.perf_counter() - began
            cpu[j] += time.process_time() - cpu_began
    encode = preds[0].stats()['seconds']['encode']
    return dict(seconds=seconds, cpu_seconds=cpu, masks=masks, encode_seconds=encode,
                images_encoded=preds[0].images_encoded, encoder_calls=preds[0].encoder_calls)


def stock_sam(sam, variant: str, device: str):
    """The naive side's model: ``variant`` with stock attention and ``sam``'s weights."""
    stock = init_sam(variant, device=device, pretrained=False, fused_attention=False)
    stock.load_state_dict(sam.state_dict())
    return stock


def naive_mask(predictor, image: np.ndarray, prompts) -> np.ndarray:
    """``set_image`` then one single-mask decode of a point prompt set; the (H, W) mask."""
    predictor.set_image(image)
    if isinstance(predictor, SamPredictor):
        logits, _, _ = predictor.predict(point_coords=prompts.point_coords,
                                         point_labels=prompts.point_labels,
                                         multimask_output=False, return_logits=True)
        return np.asarray(logits[0]) > 0
    logits, _ = predictor.predict(torch.from_numpy(prompts.point_coords),
                                  torch.from_numpy(prompts.point_labels))
    return (logits > 0).cpu().numpy()


def run_naive(sam, items, channels: int, device: str) -> Dict:
    """The reference's loop: per image, per prompt set, encode again (fp32), decode.

    ``sam`` is the stock model; ``segment_anything.SamPredictor`` runs it when its
    preprocessing is SAM's own (mean/std), else :class:`SamMaskPredictor`.
    """
    loaders = predictors(sam, channels, 1, device)  # file reading and prompts only
    stock_input = SamInputTransform.from_sam(sam).normalization == 'mean_std'
    predictor = SamPredictor(sam) if stock_input else SamMaskPredictor(sam)
    seconds, cpu = [0.0] * channels, [0.0] * channels
    masks = [[None] * channels for _ in items]
    encode, images_encoded = 0.0, 0
    for index, item in enumerate(items):
        for j, loader in enumerate(loaders):
            began, cpu_began = time.perf_counter(), time.process_time()
            one = loader.load(item)
            encode_began = time.perf_counter()
            masks[index][j] = naive_mask(predictor, one.image, one.prompts)
            if device == 'cuda':
                torch.cuda.synchronize()
            encode += time.perf_counter() - encode_began  # with the decode (<1 %)
            images_encoded += 1
            seconds[j] += time.perf_counter() - began
            cpu[j] += time.process_time() - cpu_began
    return dict(seconds=seconds, cpu_seconds=cpu, masks=masks, encode_seconds=encode,
                images_encoded=images_encoded, encoder_calls=images_encoded,
                predictor=type(predictor).__name__)


def run_interleaved(sam, stock, items, channels: int, batch_size: int, device: str,
                    autocast: bool) -> Tuple[Dict, Dict]:
    """Both paths over the same items, alternating chunk by chunk (``batch_size`` images).

    The path that goes first alternates too, so load on a shared machine and
    the allocator state one path leaves behind fall on both alike.

    Returns:
        ``(naive, epsam)`` results, as :func:`run_naive` and :func:`run_epsam` give.
    """
    naive, ours = [], []
    for index, start in enumerate(range(0, len(items), batch_size)):
        chunk = items[start:start + batch_size]
        naive_first = index % 2 == 0
        if naive_first:
            naive.append(run_naive(stock, chunk, channels, device))
        ours.append(run_epsam(sam, chunk, channels, batch_size, device, autocast))
        if not naive_first:
            naive.append(run_naive(stock, chunk, channels, device))
    return merge_runs(naive), merge_runs(ours)


def merge_runs(runs: List[Dict]) -> Dict:
    """One result from the results of consecutive chunks of items."""
    merged = dict(runs[0])
    for key in ('seconds', 'cpu_seconds'):
        merged[key] = [sum(values) for values in zip(*(run[key] for run in runs))]
    for key in ('encode_seconds', 'images_encoded', 'encoder_calls'):
        merged[key] = sum(run[key] for run in runs)
    merged['masks'] = [row for run in runs for row in run['masks']]
    return merged


def warm_up(sam, item: PseudoLabelItem, device: str) -> None:
    """One untimed encode and decode (first calls build kernels and caches)."""
    loader = predictors(sam, 1, 1, device)[0]
    one = loader.load(item)
    loader.decode(loader.encode([one.image])[0], one.prompts)


# --- CPU options probe ------------------------------------------------------------
def probe_cpu_options(threads: int, repeats: int = 1) -> PrettyTable:
    """Seconds per image of a 3-block ViT-B encoder (1024 px) under CPU options."""
    torch.manual_seed(0)
    encoder = build_sam('vit_b', encoder_depth=3, encoder_global_attn_indexes=(2, )).image_encoder
    images = torch.randn(4, 3, 1024, 1024)

    def timed(fn, batch):
        best = float('inf')
        for _ in range(repeats):
            began = time.perf_counter()
            out = fn(batch)
            best = min(best, time.perf_counter() - began)
        return best / len(batch), out

    with torch.no_grad():
        base_t, base = timed(encoder, images[:1])
    rows = [('float32, no_grad, batch 1 (baseline)', base_t, 0.0)]

    def add(name, fn, batch):
        t, out = timed(fn, batch)
        rows.append((name, t, float((out[:1].float() - base).abs().max())))

    with torch.inference_mode():
        add('inference_mode, batch 1', encoder, images[:1])
    with torch.no_grad():
        add('no_grad, batch 4', encoder, images)
        add('channels_last input, batch 1', encoder,
            images[:1].contiguous(memory_format=torch.channels_last))
        with torch.backends.mkldnn.flags(enabled=False):
            add('oneDNN (mkldnn) off, batch 1', encoder, images[:1])
        previous = torch.get_num_threads()
        torch.set_num_threads(max(1, previous // 2) if previous > 1 else 2)
        add(f'{torch.get_num_threads()} thread(s) instead of {previous}, batch 1', encoder,
            images[:1])
        torch.set_num_threads(previous)
        with torch.autocast(device_type='cpu', dtype=torch.bfloat16):
            add('bfloat16 autocast, batch 1 (changes results)', encoder, images[:1])
    table = PrettyTable(['option (3-block ViT-B, 1024 px)', 's / image', 'vs baseline',
                         'max |diff| vs baseline'])
    for name, seconds, diff in rows:
        table.add_row([name, f'{seconds:.2f}', f'{base_t / seconds:.2f}x', f'{diff:.2e}'])
    table.align['option (3-block ViT-B, 1024 px)'] = 'l'
    return table


# --- report -----------------------------------------------------------------------
def compare_masks(a: List[List[np.ndarray]], b: List[List[np.ndarray]]) -> Dict:
    pairs = [(x, y) for row_a, row_b in zip(a, b) for x, y in zip(row_a, row_b)]
    identical = sum(bool(np.array_equal(x, y)) for x, y in pairs)
    differing = sum(int((x != y).sum()) for x, y in pairs)
    return dict(masks=len(pairs), identical=identical, differing_pixels=differing,
                pixels=sum(x.size for x, _ in pairs))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--variant', default='vit_b', help="SAM variant ('vit_b', 'tiny', ...)")
    parser.add_argument('--num-images', type=int, default=4)
    parser.add_argument('--prompt-sets', type=int, nargs='+', default=[1, 4],
                        help='prompt sets per image to report (k)')
    parser.add_argument('--image-size', type=int, default=512, help='patch side in pixels')
    parser.add_argument('--batch-size', type=int, default=4, help="epsam's encoder batch")
    parser.add_argument('--threads', type=int, default=torch.get_num_threads())
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--no-bf16', action='store_true', help='GPU: keep epsam in float32')
    parser.add_argument('--probe', action='store_true', help='time CPU options first')
    parser.add_argument('--out', help='also write the results as JSON here')
    return parser.parse_args(argv)


def main(argv=None) -> Dict:
    args = parse_args(argv)
    if args.num_images < 1 or min(args.prompt_sets) < 1:
        raise SystemExit('--num-images and every --prompt-sets value must be >= 1')
    torch.set_num_threads(args.threads)
    machine = machine_info(args.device)
    print(f"device {args.device} ({machine['device_name']}), {torch.get_num_threads()} "
          f'thread(s), torch {torch.__version__}, oneDNN available: '
          f'{torch.backends.mkldnn.is_available()}')
    result: Dict = dict(args=vars(args), machine=machine)
    if args.probe:
        table = probe_cpu_options(args.threads)
        print(table)
        result['probe'] = table.get_string()
    channels = max(args.prompt_sets)
    torch.manual_seed(0)
    sam = init_sam(args.variant, device=args.device)  # the variant's default attention
    stock = stock_sam(sam, args.variant, args.device)
    weights = sam_weights_note(args.variant)
    fused = dict(naive=fused_attention_enabled(stock), epsam=fused_attention_enabled(sam))
    autocast = args.device == 'cuda' and not args.no_bf16
    root = tempfile.mkdtemp(prefix='epsam_pl_throughput_')
    try:
        items = write_items(root, args.num_images, args.image_size, channels)
        warm_up(sam, items[0], args.device)
        warm_up(stock, items[0], args.device)
        load_before = load_average()
        naive, ours = run_interleaved(sam, stock, items, channels, args.batch_size, args.device,
                                      autocast)
        load_after = load_average()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    flops = encoder_flops(args.variant)
    table = PrettyTable(['k prompt sets / image', 'naive s', 'epsam s', 'naive img/s',
                         'epsam img/s', 'speed-up (wall)', 'naive CPU s', 'epsam CPU s',
                         'speed-up (CPU time)', 'encoder passes naive / epsam'])
    rows = []
    for k in sorted(set(args.prompt_sets)):
        t_naive, t_ours = sum(naive['seconds'][:k]), sum(ours['seconds'][:k])
        c_naive, c_ours = sum(naive['cpu_seconds'][:k]), sum(ours['cpu_seconds'][:k])
        rows.append(dict(k=k, naive_s=t_naive, epsam_s=t_ours, speedup=t_naive / t_ours,
                         naive_cpu_s=c_naive, epsam_cpu_s=c_ours, cpu_speedup=c_naive / c_ours))
        table.add_row([k, f'{t_naive:.1f}', f'{t_ours:.1f}',
                       f'{args.num_images / t_naive:.3f}', f'{args.num_images / t_ours:.3f}',
                       f'{t_naive / t_ours:.2f}x', f'{c_naive:.1f}', f'{c_ours:.1f}',
                       f'{c_naive / c_ours:.2f}x', f'{k * args.num_images} / {args.num_images}'])
    print(f'SAM {args.variant} ({weights}), {args.num_images} image(s) of '
          f'{args.image_size} px -> {sam.image_encoder.img_size} px frame, epsam batch '
          f'{args.batch_size}, epsam encoder {"bf16 autocast" if autocast else "float32"}, '
          f"fused attention: epsam {fused['epsam']}, naive {fused['naive']} "
          f"(naive predictor: {naive['predictor']})")
    print(table)
    print(f'load average before/after: {load_before} / {load_after}')
    for name, run in (('naive', naive), ('epsam', ours)):
        rate = flops * run['images_encoded'] / run['encode_seconds']
        per_image = run['encode_seconds'] / run['images_encoded']
        print(f"{name}: encoder {run['images_encoded']} image(s) in {run['encoder_calls']} "
              f"call(s), {run['encode_seconds']:.1f} s, {per_image:.2f} s/image, "
              f"{rate / 1e12:.4f} TFLOP/s ({flops / 1e9:.1f} GFLOP per image)")
    masks = compare_masks(naive['masks'], ours['masks'])
    print(f"masks: {masks['identical']}/{masks['masks']} identical, {masks['differing_pixels']} "
          f"of {masks['pixels']} pixels differ")
    result.update(rows=rows, masks=masks, flops_per_image=flops, variant=args.variant,
                  weights=weights, fused_attention=fused, load_average_before=load_before,
                  load_average_after=load_after, torch_threads=torch.get_num_threads(),
                  naive={k: v for k, v in naive.items() if k != 'masks'},
                  epsam={k: v for k, v in ours.items() if k != 'masks'})
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == '__main__':
    main()
