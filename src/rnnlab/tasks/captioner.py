"""A trained captioning model, loaded (`ImageCaptioner`, `load_captioner`), and what it is used for: `rnnlab
eval` (BLEU-1..4, CIDEr-D, exact match; greedy and beam) and the `caption` verb (image files -> captions, and
with `--attention` one PNG per image: the image under each word's attention).

    captioner = load_captioner("runs/caption-emoji-en")          # a run directory: uses best/
    captioner.caption_files(["smile.png"], beam=3)                # ["grinning face"]

The training side is `rnnlab.tasks.caption`. A model directory holds config.json (`"task": "caption"`, the
whole CaptionConfig), vocab.json and the weights.

Scores (`caption_scores`): corpus BLEU-1..4 from sacrebleu with every reference of each image (sacrebleu's
13a tokenizer for English, its `zh` tokenizer, one token per Chinese character, for Chinese), CIDEr-D
(`cider_d`, below) on the model's own tokens (English words, Chinese characters), and the exact-match rate
(the caption equals one of the references).

CIDEr-D (Vedantam et al. 2015), as coco-caption's `CiderD` computes it, implemented here (no Java): every
caption becomes, for n = 1..4, a vector of its n-grams' counts times their inverse document frequency
log(N / df) (N images, df: in how many images' reference sets the n-gram occurs, over the evaluated set);
the similarity of a candidate to a reference is, per n, sum over the candidate's n-grams of
min(g_cand, g_ref) * g_ref / (||g_cand|| ||g_ref||) (the clipping that makes it "-D"), times the length
penalty exp(-(l_cand - l_ref)^2 / (2 * 6^2)); an image's score is 10 x the mean over n and over its
references, and CIDEr-D is the mean over images. As in coco-caption, the lengths are the counts of 2-grams
(words - 1: the same differences) and an n with an empty vector contributes 0.
"""

from __future__ import annotations

import functools
import io
import math
import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from rnnlab.config import config_from_dict
from rnnlab.data.caption_images import (
    CaptionedImage,
    caption_text,
    caption_tokens,
    images_to_tensor,
    read_image,
)
from rnnlab.data.vocab import BOS_ID, EOS_ID, PAD_ID, Vocabulary
from rnnlab.errors import CheckpointError, ConfigError
from rnnlab.nn.captioner import Captioner
from rnnlab.tasks.registry import EvalRequest
from rnnlab.train import load_model_dir, load_model_weights
from rnnlab.validation import check_option
from rnnlab.verbs import Artifact, Verb

if TYPE_CHECKING:
    from rnnlab.tasks.caption import CaptionConfig

__all__ = ["CAPTION_VERB", "CaptionOptions", "CiderD", "ImageCaptioner", "caption_scores", "cider_d", "evaluate",
           "format_evaluation", "load_captioner", "score_captions"]  # fmt: skip

TASK = "caption"
CIDER_SIGMA = 6.0


# ------------------------------------------------------------------------------------------------ metrics
def _ngrams(tokens: Sequence[str], n_max: int = 4) -> Counter:
    return Counter(tuple(tokens[i : i + n]) for n in range(1, n_max + 1) for i in range(len(tokens) - n + 1))


class CiderD:
    """CIDEr-D of candidates against a fixed list of reference sets, whose n-grams give the document
    frequencies (see the module docstring): `score(candidate, i)` scores one tokenised candidate against
    reference set i, so many candidates for one image (a retrieval oracle, a reranker) cost no rebuild."""

    def __init__(self, references: Sequence[Sequence[Sequence[str]]], n_max: int = 4,
                 sigma: float = CIDER_SIGMA) -> None:  # fmt: skip
        self.n_max, self.sigma = n_max, sigma
        ref_counts = [[_ngrams(ref, n_max) for ref in refs] for refs in references]
        self.document_frequency: Counter = Counter()
        for counts in ref_counts:
            self.document_frequency.update(set().union(*[set(c) for c in counts]) if counts else set())
        self.log_images = math.log(float(max(1, len(references))))
        self.reference_vectors = [[self._vectors(c) for c in counts] for counts in ref_counts]

    def _vectors(self, counts: Counter) -> tuple[list[dict], list[float], int]:
        """tf-idf vectors per n, their norms, and the length (the count of 2-grams, as coco-caption)."""
        vec: list[dict] = [{} for _ in range(self.n_max)]
        norm = [0.0] * self.n_max
        length = 0
        for gram, tf in counts.items():
            n = len(gram) - 1
            vec[n][gram] = tf * (self.log_images - math.log(max(1.0, self.document_frequency[gram])))
            norm[n] += vec[n][gram] ** 2
            if n == 1:
                length += tf
        return vec, [math.sqrt(x) for x in norm], length

    def score(self, candidate: Sequence[str], image: int) -> float:
        """The CIDEr-D of one tokenised candidate against reference set `image`."""
        vec, norm, length = self._vectors(_ngrams(candidate, self.n_max))
        references = self.reference_vectors[image]
        total = np.zeros(self.n_max)
        for vec_ref, norm_ref, length_ref in references:
            penalty = math.exp(-((length - length_ref) ** 2) / (2 * self.sigma**2))
            for n in range(self.n_max):
                value = sum(min(weight, vec_ref[n].get(gram, 0.0)) * vec_ref[n].get(gram, 0.0)
                            for gram, weight in vec[n].items())  # fmt: skip
                if norm[n] and norm_ref[n]:
                    value /= norm[n] * norm_ref[n]
                total[n] += value * penalty
        return float(total.mean()) / max(1, len(references)) * 10.0


def cider_d(candidates: Sequence[Sequence[str]], references: Sequence[Sequence[Sequence[str]]],
            n_max: int = 4, sigma: float = CIDER_SIGMA) -> tuple[float, list[float]]:  # fmt: skip
    """CIDEr-D of tokenised candidates (one per image) against tokenised references (several per image):
    (the corpus score, each image's score). See the module docstring for the definition."""
    if len(candidates) != len(references):
        raise ValueError(f"{len(candidates)} candidates but {len(references)} reference sets")
    if not candidates:
        return 0.0, []
    scorer = CiderD(references, n_max, sigma)
    scores = [scorer.score(candidate, image) for image, candidate in enumerate(candidates)]
    return sum(scores) / len(scores), scores


def caption_scores(hypotheses: Sequence[str], references: Sequence[Sequence[str]], language: str) -> dict:
    """BLEU-1..4 (sacrebleu, every reference), CIDEr-D and exact match of caption texts (see the docstring)."""
    import sacrebleu

    width = max((len(refs) for refs in references), default=1)
    streams = [[refs[i] if i < len(refs) else None for refs in references] for i in range(width)]
    result: dict = {}
    for n in range(1, 5):
        bleu = sacrebleu.BLEU(tokenize="zh" if language == "zh" else "13a", max_ngram_order=n)
        result[f"bleu{n}"] = bleu.corpus_score(list(hypotheses), streams).score if hypotheses else 0.0
        if n == 4:
            result["bleu_signature"] = str(bleu.get_signature())
    tokens = [caption_tokens(h, language) for h in hypotheses]
    result["cider"], _ = cider_d(tokens, [[caption_tokens(r, language) for r in refs] for refs in references])
    result["exact"] = sum(h in refs for h, refs in zip(hypotheses, references)) / max(1, len(hypotheses))
    return result


def score_captions(captions: Sequence[str], examples: Sequence[CaptionedImage], language: str) -> dict:
    """`caption_scores` against the examples' references, and for generated scenes `objects_named`: the
    share of captions naming every object of the scene with its colour and shape."""
    result = caption_scores(captions, [example.references for example in examples], language)
    if examples and all("objects" in example.extra for example in examples):
        from rnnlab.data.scenes import named_objects

        named = [named_objects(c, e.extra["objects"], language) for c, e in zip(captions, examples)]
        result["objects_named"] = sum(named) / len(named)
    return result


# ------------------------------------------------------------------------------------------- the model
class ImageCaptioner:
    """A trained Captioner with its vocabulary and config: captions for image arrays or files, scores."""

    def __init__(self, model: Captioner, vocab: Vocabulary, config: CaptionConfig) -> None:
        self.model, self.vocab, self.config = model, vocab, config

    @property
    def language(self) -> str:
        return self.config.data.language

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def text_of(self, ids: Sequence[int]) -> str:
        return caption_text(self.vocab.decode(ids, skip_specials=True), self.language)

    @torch.no_grad()
    def decode(self, images: np.ndarray, beam: int = 1, max_tokens: int | None = None, alpha: float = 0.0,
               batch_size: int = 128) -> list[list[int]]:  # fmt: skip
        """The token ids of each image's caption: greedy (beam 1) or beam search; images uint8 (N, H, W, 3)."""
        training = self.model.training
        self.model.eval()
        max_len = max_tokens or self.config.data.max_caption_tokens + 1
        out: list[list[int]] = []
        for start in range(0, len(images), batch_size):
            batch = images_to_tensor(images[start : start + batch_size]).to(self.device)
            method = "beam" if beam > 1 else "greedy"
            out += [h.tokens for h in self.model.caption(batch, method=method, beam_size=beam, max_len=max_len,
                                                         alpha=alpha)]  # fmt: skip
        self.model.train(training)
        return out

    @torch.no_grad()
    def loss(self, examples: Sequence[CaptionedImage], batch_size: int = 128) -> float:
        """Mean cross-entropy per target token over every (image, reference) pair."""
        from rnnlab.nn.seq2seq import sequence_loss

        training = self.model.training
        self.model.eval()
        pairs = [(i, ref) for i, example in enumerate(examples) for ref in example.references]
        total, count = 0.0, 0
        for start in range(0, len(pairs), batch_size):
            chunk = pairs[start : start + batch_size]
            images = np.stack([examples[i].image for i, _ in chunk])
            tgt_in, tgt_out = self.encode_targets([ref for _, ref in chunk])
            logits, _ = self.model(images_to_tensor(images).to(self.device), tgt_in.to(self.device))
            loss, n = sequence_loss(logits, tgt_out.to(self.device), PAD_ID)
            total, count = total + float(loss), count + n
        self.model.train(training)
        return total / max(1, count)

    def encode_targets(self, captions: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """(tgt_in (B, T) = bos + tokens, tgt_out (B, T) = tokens + eos), padded; captions cut to the limit."""
        limit = self.config.data.max_caption_tokens
        encoded = [self.vocab.encode(caption_tokens(c, self.language)[:limit]) for c in captions]
        width = max(len(ids) for ids in encoded) + 1
        tgt_in = torch.full((len(encoded), width), PAD_ID, dtype=torch.long)
        tgt_out = torch.full((len(encoded), width), PAD_ID, dtype=torch.long)
        for row, ids in enumerate(encoded):
            tgt_in[row, : len(ids) + 1] = torch.tensor([BOS_ID, *ids])
            tgt_out[row, : len(ids) + 1] = torch.tensor([*ids, EOS_ID])
        return tgt_in, tgt_out

    def evaluate(self, examples: Sequence[CaptionedImage], beams: Sequence[int] = (1,)) -> dict:
        """Scores per decoding ("greedy", "beam3", ...), the loss, and a few captions (JSON-ready)."""
        images = np.stack([example.image for example in examples])
        result: dict = {"images": len(examples), "loss": self.loss(examples, self.config.eval_batch_size)}
        for beam in beams:
            captions = [self.text_of(ids) for ids in self.decode(images, beam, batch_size=self.config.eval_batch_size)]
            name = "greedy" if beam == 1 else f"beam{beam}"
            result[name] = score_captions(captions, examples, self.language)
            result[name]["samples"] = [{"image": e.where, "caption": c, "references": e.references}
                                       for e, c in list(zip(examples, captions))[:8]]  # fmt: skip
        return result


def load_captioner(path: str | Path) -> ImageCaptioner:
    from rnnlab.tasks.caption import CaptionConfig  # here, not at the top: that module imports this one

    checkpoint = load_model_dir(path, TASK)
    try:
        config = config_from_dict(CaptionConfig, checkpoint.config["config"], source=str(checkpoint.path))
        vocab = Vocabulary(checkpoint.read_json("vocab.json")["tokens"])
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{checkpoint.path}: config.json or vocab.json lacks a field ({error})") from None
    model = Captioner(config.model, len(vocab), BOS_ID, EOS_ID, PAD_ID)
    load_model_weights(model, checkpoint)
    model.eval()
    return ImageCaptioner(model, vocab, config)


# ----------------------------------------------------------------------------------------------- eval
def evaluate(path: str | Path, request: EvalRequest) -> dict:
    """Greedy and beam scores on a split of the model's data (and, for the emoji test split, on the held-out
    art style too) or on an image<TAB>caption file."""
    from rnnlab.data.caption_images import read_caption_file
    from rnnlab.tasks.caption import held_out_style_examples, load_splits

    captioner = load_captioner(path)
    config = captioner.config
    beams = sorted({1, config.beam_size})
    if request.data_file:
        examples = read_caption_file(request.data_file, config.data.language, config.data.image_size)
        parts = {request.data_file: examples}
    else:
        splits = load_splits(config.data)
        where = f"{config.data.dataset} {request.split}"
        if config.data.dataset == "emoji":
            where += f" ({config.data.style})"
        parts = {where: request.examples_of(splits)}
        held_out = held_out_style_examples(config.data, request.split)
        if held_out:
            parts[f"{config.data.dataset} {request.split} (held-out style {held_out[0].style})"] = held_out
    attention = "none (Show and Tell)" if config.model.attention == "none" else config.model.attention
    return {"language": config.data.language, "attention": attention,
            "parts": {name: captioner.evaluate(examples, beams) for name, examples in parts.items()}}  # fmt: skip


def format_evaluation(result: dict) -> str:
    lines = []
    for name, part in result["parts"].items():
        lines.append(f"{name}: {part['images']} images, {result['language']}, attention {result['attention']}, "
                     f"loss {part['loss']:.4f}")  # fmt: skip
        for decoding in ("greedy", *sorted(k for k in part if k.startswith("beam"))):
            scores = part[decoding]
            bleu = "/".join(f"{scores[f'bleu{n}']:.1f}" for n in range(1, 5))
            named = f"  every object named {scores['objects_named']:.3f}" if "objects_named" in scores else ""
            lines.append(f"  {decoding:7s} BLEU-1..4 {bleu}  CIDEr-D {scores['cider']:.3f}  exact {scores['exact']:.3f}"
                         + named)  # fmt: skip
        for sample in part["greedy"]["samples"][:4]:
            lines.append(f"    {sample['image']}: {sample['caption']!r}  (references: {' | '.join(sample['references'])})")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------- verb
@dataclass
class CaptionOptions:
    beam: int = field(default=1, metadata={"help": "beam size (1: greedy decoding)"})
    alpha: float = field(default=0.0, metadata={"help": "length penalty ((5+len)/6)^alpha of beam search"})
    max_tokens: int | None = field(default=None, metadata={"help": "longest caption (default: the model's)"})
    attention: bool = field(default=False, metadata={"help": "write each image's attention overlay as a PNG "
                                                                "(one panel per word) under --out"})  # fmt: skip

    def __post_init__(self) -> None:
        for name in ("beam", "alpha", "max_tokens"):  # the shared rules: --beam >= 1 and its limit, ...
            setattr(self, name, check_option(name, getattr(self, name)))
        if self.max_tokens is not None and self.max_tokens > 200:
            raise ConfigError(f"--max-tokens must be an integer from 1 to 200 (a caption), got {self.max_tokens}")


def attention_map(weights: torch.Tensor, grid: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """One step's weights (S,) over the (h, w) grid, upsampled (bilinear) to the image's (H, W), scaled so
    the largest is 1: float (H, W) in [0, 1]."""
    from PIL import Image

    cells = weights.reshape(grid).float().numpy()
    cells = cells / max(float(cells.max()), 1e-12)
    picture = Image.fromarray(cells.astype(np.float32), mode="F").resize(size[::-1], Image.Resampling.BILINEAR)
    return np.clip(np.asarray(picture), 0.0, 1.0)


def attention_png(image: np.ndarray, words: list[str], weights: torch.Tensor, grid: tuple[int, int]) -> bytes:
    """A PNG: the image, then one panel per word and one for the end (</s>), each showing the image lit by
    that step's attention (Xu et al.'s figures: dark where the weight is small). The panels are laid out as
    one mosaic in one matplotlib axes (a subplot per word took 5 s for 20 words)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    labels = ["image", *words, "</s>"][: len(weights) + 1]
    columns = min(len(labels), 6)
    rows = math.ceil(len(labels) / columns)
    height, width = image.shape[:2]
    gap, top = max(2, width // 8), max(6, height // 3)  # pixels between panels, and above each for its word
    mosaic = np.full((rows * (height + top + gap), columns * (width + gap), 3), 255, dtype=np.uint8)
    places = []
    for index, label in enumerate(labels):
        row, column = divmod(index, columns)
        y, x = row * (height + top + gap) + top, column * (width + gap)
        if index == 0:
            panel = image
        else:
            light = attention_map(weights[index - 1], grid, (height, width))
            panel = (image * (0.15 + 0.85 * light[..., None])).astype(np.uint8)
        mosaic[y : y + height, x : x + width] = panel
        places.append((x + width / 2, y - top / 2, label))
    scale = max(1.0, 96 / height)  # inches: about 1 inch per panel, whatever the image size
    figure = Figure(figsize=(mosaic.shape[1] * scale / 100, mosaic.shape[0] * scale / 100), dpi=100)
    axis = figure.add_axes((0, 0, 1, 1))
    axis.axis("off")
    axis.imshow(mosaic, interpolation="nearest")
    for x, y, label in places:
        axis.text(x, y, label, ha="center", va="center", fontsize=9, fontfamily=_fonts(label))
    out = io.BytesIO()
    with warnings.catch_warnings():  # a glyph no installed font has is drawn as a box, without a warning each
        warnings.simplefilter("ignore", UserWarning)
        figure.savefig(out, format="png")
    return out.getvalue()


@functools.cache
def _installed_cjk_font() -> str | None:
    from matplotlib import font_manager

    from rnnlab.inspect.gates import CJK_FONTS

    installed = {font.name for font in font_manager.fontManager.ttflist}
    return next((name for name in CJK_FONTS if name in installed), None)


def _fonts(text: str) -> list[str]:
    """DejaVu Sans, and an installed CJK font for Chinese words (none installed: boxes, and no warning)."""
    from rnnlab.inspect.gates import is_cjk

    cjk = _installed_cjk_font() if any(is_cjk(char) for char in text) else None
    return ["DejaVu Sans"] + ([cjk] if cjk else [])


def run_caption(captioner: ImageCaptioner, paths: list[str], options: CaptionOptions) -> Iterator[dict | Artifact]:
    """The `caption` verb: per image file `{"image", "caption", "tokens"}`; with `attention`, a PNG each."""
    if options.attention and not captioner.model.attends:
        raise ConfigError("--attention: this model has no attention (model.attention: none)")
    size = captioner.config.data.image_size
    images = np.stack([read_image(path, size) for path in paths])  # every file checked before any output
    captions = captioner.decode(images, options.beam, options.max_tokens, options.alpha)
    weights = None
    if options.attention:
        batch = images_to_tensor(images).to(captioner.device)
        weights = captioner.model.attention_of(batch, [ids or [] for ids in captions])
        grid = captioner.model.encoder(batch[:1]).shape
    for number, (path, ids) in enumerate(zip(paths, captions), start=1):
        words = captioner.vocab.decode(ids, skip_specials=True)
        yield {"image": str(path), "caption": caption_text(words, captioner.language)}
        if weights is not None:
            yield Artifact("image/png", attention_png(images[number - 1], words, weights[number - 1], grid),
                           f"{Path(path).stem}-attention.png")  # fmt: skip


CAPTION_VERB = Verb(name="caption", help="caption image files (with --attention: what each word looked at, as PNG)",
                    options=CaptionOptions, run=run_caption, inputs="files", what="images", artifacts=True,
                    description="write a caption for each image file (PNG, JPEG, ...: converted to RGB on white, "
                    "padded to a square and resized as in training); --beam N for beam search; --attention writes "
                    "one PNG per image under --out with the image under each word's attention")  # fmt: skip
