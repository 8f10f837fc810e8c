"""Captioning held-out emoji: the attention captioner against retrieval and constant baselines, in English and
Chinese, on the test emoji in the training art style and in the held-out style; and, on generated scenes,
attention against no attention.

    python benchmarks/captioning.py                        # emoji en + zh, and scenes (about 35 minutes)
    python benchmarks/captioning.py --only en --minutes 3  # shorter (--only: en, zh or scenes)
    python benchmarks/captioning.py --runs runs/bench-caption --json results.json
    python benchmarks/captioning.py --ceiling              # no training: what the training names allow (20 s)

Rows, each scored with `rnnlab.tasks.captioner.caption_scores` (corpus BLEU-4 from sacrebleu over every
reference, CIDEr-D, exact match) on the `emoji` test split (160 emoji never seen in training), drawn in the
Google style the models train on and in the Twitter style none of them saw:
- Show, Attend and Tell (`configs/caption/emoji-<lang>.yaml`), greedy and beam 3;
- Show and Tell (`model.attention: none`, the image only in the initial state; English only), greedy, beam 3;
- nearest neighbour, CNN: the caption (first reference) of the training image whose mean CNN feature (the
  trained attention model's encoder) is closest (cosine);
- nearest neighbour, pixels: the same with the 32x32x3 pixels as the feature;
- most frequent caption: the training caption seen most often (ties: the first in sorted order), for every image.

Scenes (`configs/caption/scenes-en.yaml` and `scenes-en-show-tell.yaml`, the `scenes` test split of 500
generated scenes): the same two models, greedy and beam 3, and the share of captions that name every object
of the scene with its right colour and shape (`rnnlab.data.scenes.named_objects`).

Each model trains through `rnnlab train` within `--minutes` (best checkpoint by validation CIDEr-D); the
table gives each row's wall-clock seconds (training included for models). One torch thread by default.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from rnnlab.benchmarking import train_for_minutes as train
from rnnlab.data.caption_images import CaptionedImage, caption_tokens, images_to_tensor
from rnnlab.tasks.caption import CaptionDataConfig, held_out_style_examples, load_splits
from rnnlab.tasks.captioner import CiderD, ImageCaptioner, caption_scores, load_captioner, score_captions


def model_rows(name: str, captioner: ImageCaptioner, parts: dict, seconds: float, language: str) -> list[dict]:
    rows = []
    for beam in (1, 3):
        start = time.perf_counter()
        row = {"language": language, "method": f"{name}, {'greedy' if beam == 1 else 'beam 3'}"}
        for part, examples in parts.items():
            images = np.stack([e.image for e in examples])
            captions = [captioner.text_of(ids) for ids in captioner.decode(images, beam)]
            row[part] = score_captions(captions, examples, language)
        row["seconds"] = seconds + time.perf_counter() - start
        rows.append(row)
    return rows


@torch.no_grad()
def cnn_features(captioner: ImageCaptioner, examples: list[CaptionedImage]) -> np.ndarray:
    captioner.model.eval()
    out = []
    for start in range(0, len(examples), 256):
        batch = images_to_tensor(np.stack([e.image for e in examples[start : start + 256]]))
        out.append(captioner.model.encoder(batch).mean.numpy())
    return np.concatenate(out)


def nearest_captions(train_features: np.ndarray, features: np.ndarray, train: list[CaptionedImage]) -> list[str]:
    """The first reference of the training image closest by cosine similarity."""
    def unit(x: np.ndarray) -> np.ndarray:
        x = x.reshape(len(x), -1).astype(np.float64)
        x = x - x.mean(axis=1, keepdims=True)
        return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

    nearest = (unit(features) @ unit(train_features).T).argmax(axis=1)
    return [train[i].references[0] for i in nearest]


def baseline_rows(captioner: ImageCaptioner, train: list[CaptionedImage], parts: dict, language: str) -> list[dict]:
    rows = []
    start = time.perf_counter()
    train_cnn = cnn_features(captioner, train)
    row = {"language": language, "method": "nearest neighbour, CNN features"}
    for part, examples in parts.items():
        captions = nearest_captions(train_cnn, cnn_features(captioner, examples), train)
        row[part] = caption_scores(captions, [e.references for e in examples], language)
    row["seconds"] = time.perf_counter() - start
    rows.append(row)

    start = time.perf_counter()
    train_pixels = np.stack([e.image for e in train])
    row = {"language": language, "method": "nearest neighbour, pixels"}
    for part, examples in parts.items():
        captions = nearest_captions(train_pixels, np.stack([e.image for e in examples]), train)
        row[part] = caption_scores(captions, [e.references for e in examples], language)
    row["seconds"] = time.perf_counter() - start
    rows.append(row)

    start = time.perf_counter()
    counts = Counter(ref for e in train for ref in e.references)
    top = min(counts, key=lambda ref: (-counts[ref], ref))
    row = {"language": language, "method": f"most frequent caption ({top!r})"}
    for part, examples in parts.items():
        row[part] = caption_scores([top] * len(examples), [e.references for e in examples], language)
    row["seconds"] = time.perf_counter() - start
    rows.append(row)
    return rows


def ceiling(train: list[CaptionedImage], test: list[CaptionedImage], language: str) -> dict:
    """What the training names allow on the test emoji (no model): the share of the test emoji's first
    references' tokens that no training name has; CIDEr-D of the best training name per test emoji, chosen
    knowing its references (an oracle retrieval: no retrieval can do better); CIDEr-D of the first reference
    with its unseen tokens dropped; and, for these and for retrieval by pixels, how many images score 0."""
    references = [[caption_tokens(r, language) for r in e.references] for e in test]
    scorer = CiderD(references)
    candidates = sorted({tuple(caption_tokens(r, language)) for e in train for r in e.references} - {()})
    seen = {token for name in candidates for token in name}
    firsts = [refs[0] for refs in references]
    oracle = [max(scorer.score(c, i) for c in candidates) for i in range(len(test))]
    in_vocabulary = [scorer.score([t for t in first if t in seen], i) for i, first in enumerate(firsts)]
    pixels = nearest_captions(np.stack([e.image for e in train]), np.stack([e.image for e in test]), train)
    nearest = [scorer.score(caption_tokens(c, language), i) for i, c in enumerate(pixels)]
    result: dict = {"unseen tokens": sum(t not in seen for first in firsts for t in first),
                    "tokens": sum(len(first) for first in firsts)}  # fmt: skip
    for name, scores in (("oracle retrieval", oracle), ("first reference, unseen tokens dropped", in_vocabulary),
                         ("nearest neighbour, pixels", nearest)):  # fmt: skip
        result[name] = (float(np.mean(scores)), sum(score == 0 for score in scores))  # (CIDEr-D, images at 0)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=["en", "zh", "scenes"], help="one part only")
    parser.add_argument("--minutes", type=float, default=5.0, help="training budget of each model")
    parser.add_argument("--runs", default="runs/bench-caption", help="directory of the runs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--json", help="also write every score here")
    parser.add_argument("--ceiling", action="store_true",
                        help="no training: what the training names allow on the test emoji (oracle retrieval)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.ceiling:
        for language in [args.only] if args.only in ("en", "zh") else ["en", "zh"]:
            splits = load_splits(CaptionDataConfig(language=language))
            result = ceiling(splits["train"], splits["test"], language)
            print(f"{language}: {result.pop('unseen tokens')} of {result.pop('tokens')} tokens of the test emoji's "
                  f"first references are in no training name; CIDEr-D on the {len(splits['test'])} test emoji:")
            for name, (score, zeros) in result.items():
                print(f"  {name:42} {score:.3f}  ({zeros} images at 0)")
        return
    rows: list[dict] = []
    for language in [args.only] if args.only in ("en", "zh") else [] if args.only else ["en", "zh"]:
        data = CaptionDataConfig(language=language)
        splits = load_splits(data)
        parts = {"test": splits["test"], "held-out style": held_out_style_examples(data, "test")}
        run = Path(args.runs) / f"attention-{language}"
        seconds = train(f"configs/caption/emoji-{language}.yaml", [], args.minutes, run)
        attention = load_captioner(run)
        rows += model_rows("Show, Attend and Tell", attention, parts, seconds, language)
        if language == "en":
            plain_run = Path(args.runs) / f"show-tell-{language}"
            seconds = train("configs/caption/emoji-en-show-tell.yaml", [], args.minutes, plain_run)
            rows += model_rows("Show and Tell (no attention)", load_captioner(plain_run), parts, seconds, language)
        rows += baseline_rows(attention, splits["train"], parts, language)
    if rows:
        print(f"\nemoji test split: {len(parts['test'])} held-out emoji; torch {torch.__version__}, {args.threads} "
              f"thread(s), {platform.processor() or platform.machine()}, {args.minutes:g} min per model\n")  # fmt: skip
        print("| lang | method | BLEU-4 | CIDEr-D | exact | held-out style BLEU-4 | CIDEr-D | exact | seconds |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for row in rows:
            test, style = row["test"], row["held-out style"]
            print(f"| {row['language']} | {row['method']} | {test['bleu4']:.1f} | {test['cider']:.3f} | "
                  f"{test['exact']:.3f} | {style['bleu4']:.1f} | {style['cider']:.3f} | {style['exact']:.3f} | "
                  f"{row['seconds']:.0f} |")  # fmt: skip
    scene_rows: list[dict] = []
    if args.only in (None, "scenes"):
        data = CaptionDataConfig(dataset="scenes", language="en")
        parts = {"test": load_splits(data)["test"]}
        for name, config in (("Show, Attend and Tell", "scenes-en"), ("Show and Tell (no attention)",
                                                                       "scenes-en-show-tell")):  # fmt: skip
            run = Path(args.runs) / config
            seconds = train(f"configs/caption/{config}.yaml", [], args.minutes, run)
            scene_rows += model_rows(name, load_captioner(run), parts, seconds, "en")
        print(f"\nscenes test split: {len(parts['test'])} generated scenes, {args.minutes:g} min per model\n")
        print("| method | BLEU-4 | CIDEr-D | exact | every object named | seconds |")
        print("|---|---:|---:|---:|---:|---:|")
        for row in scene_rows:
            test = row["test"]
            print(f"| {row['method']} | {test['bleu4']:.1f} | {test['cider']:.3f} | {test['exact']:.3f} | "
                  f"{test['objects_named']:.3f} | {row['seconds']:.0f} |")  # fmt: skip
    rows += scene_rows
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
