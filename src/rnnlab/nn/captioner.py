"""Image captioning: a small CNN image encoder (`ImageEncoder`, reused by VQA) and `Captioner`, the CNN + an
LSTM decoder with soft attention over the image's grid of features (Show, Attend and Tell, Xu et al. 2015),
or with the image read once (Show and Tell, Vinyals et al. 2015: `attention: none`), as the decoder's initial
state (`image_as: state`) or, as in the paper, as its first input before <s> (`image_as: input`).

    encoder = ImageEncoder(ImageEncoderConfig())           # images (B, 3, H, W) in [-1, 1]
    grid = encoder(images)                                  # ImageGrid: memory (B, S, D), mask (B, S), shape (h, w)
    model = Captioner(CaptionerConfig(), vocab_size=500, bos_id=2, eos_id=3, pad_id=0)
    logits, weights = model(images, tgt_in)                 # (B, T, V), attention (B, T, S) or None
    model.caption(images, method="beam", beam_size=3)       # [[Hypothesis]] per image (rnnlab.nn.decoding)

The decoder is the seq2seq `Decoder` itself (`rnnlab.nn.seq2seq`): an LSTM whose step reads the previous
word (and the previous attentional vector: input feeding), attends over the memory with the project's
`Attention` (Bahdanau's additive scoring by default; dot / general also work), and predicts the next word
from tanh(W [h_t; context_t]). The memory is the encoder's grid: one feature vector per cell of the last
feature map (a 32x32 image and 3 stages: a 4x4 grid, S = 16), every cell real (the mask is all True).
Its initial state h_0, c_0 = tanh(W_h mean), tanh(W_c mean) of the grid's mean feature (Xu et al. 2015,
section 3.1.2), the same bridge in both variants. Decoding (greedy, sampling, batched beam) is
`rnnlab.nn.decoding`'s, through `step` / `reorder_state` (the Seq2Seq protocol).

`doubly_stochastic_penalty(weights)`: Xu et al.'s regulariser, sum over cells of (1 - sum over steps of the
weight)^2, which pushes the decoder to look at every part of the image over the whole caption.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor, nn

from rnnlab.config import MAX_LAYERS, require, require_fractions, require_sizes
from rnnlab.nn.decoding import Hypothesis, beam_search, greedy_decode, sample_decode
from rnnlab.nn.seq2seq import Decoder, Seq2Seq

__all__ = ["Captioner", "CaptionerConfig", "ImageEncoder", "ImageEncoderConfig", "ImageGrid",
           "doubly_stochastic_penalty"]  # fmt: skip

MAX_WIDTH = 4096  # channels, features, hidden units: far above what this toolkit trains


# ------------------------------------------------------------------------------------------------- encoder
@dataclass
class ImageEncoderConfig:
    """A ResNet-style stack: a 3x3 stem conv of `width` channels, then `stages` stages, each halving the
    resolution (a stride-2 residual block) and doubling the channels, then a 1x1 conv to `feature_size`."""

    width: int = 32  # channels of the stem; stage k has width * 2**k
    stages: int = 3  # each halves the resolution: a 32x32 image gives a 4x4 grid
    blocks: int = 1  # residual blocks per stage (the first one strided)
    feature_size: int = 128  # D: the size of each grid cell's feature vector

    def __post_init__(self) -> None:
        require_sizes(self, "width feature_size", high=MAX_WIDTH)
        require(1 <= self.stages <= 6, "stages", "an integer from 1 to 6", self.stages)
        require(1 <= self.blocks <= 8, "blocks", "an integer from 1 to 8", self.blocks)
        require(self.width * 2 ** (self.stages - 1) <= MAX_WIDTH, "width",
                f"width * 2**(stages - 1) <= {MAX_WIDTH}", {"width": self.width, "stages": self.stages})  # fmt: skip


@dataclass
class ImageGrid:
    """What `ImageEncoder` returns, in the form the seq2seq attention takes.

    memory: (B, S, D) one feature vector per grid cell, row-major (S = h * w); mask: (B, S) bool, all True;
    shape: (h, w), to lay the weights over the image again.
    """

    memory: Tensor
    mask: Tensor
    shape: tuple[int, int]

    @property
    def mean(self) -> Tensor:
        """(B, D): the mean feature over the grid (the image as one vector)."""
        return self.memory.mean(dim=1)


class ResidualBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus the input (projected by a strided 1x1 conv when the shape changes)."""

    def __init__(self, channels_in: int, channels_out: int, stride: int = 1) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels_in, channels_out, 3, stride, 1, bias=False), nn.BatchNorm2d(channels_out),
            nn.ReLU(inplace=True), nn.Conv2d(channels_out, channels_out, 3, 1, 1, bias=False),
            nn.BatchNorm2d(channels_out),
        )  # fmt: skip
        self.shortcut = nn.Identity() if stride == 1 and channels_in == channels_out else nn.Sequential(
            nn.Conv2d(channels_in, channels_out, 1, stride, bias=False), nn.BatchNorm2d(channels_out))  # fmt: skip

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


class ImageEncoder(nn.Module):
    """images (B, 3, H, W) -> ImageGrid (memory (B, S, D), mask (B, S)), S = ceil(H / 2**stages) * ceil(W / ...).

    Trained from scratch (no downloaded weights); no I/O: images are read by `rnnlab.data.caption_images`.
    """

    def __init__(self, config: ImageEncoderConfig) -> None:
        super().__init__()
        self.config = config
        width = config.width
        layers: list[nn.Module] = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
        for stage in range(config.stages):
            out = config.width * 2**stage if stage else width
            for block in range(config.blocks):
                layers.append(ResidualBlock(width, out, stride=2 if block == 0 else 1))
                width = out
        layers.append(nn.Conv2d(width, config.feature_size, 1))
        self.net = nn.Sequential(*layers)

    @property
    def feature_size(self) -> int:
        return self.config.feature_size

    def forward(self, images: Tensor) -> ImageGrid:
        if images.dim() != 4 or images.size(1) != 3:
            raise ValueError(f"images must be (B, 3, H, W), got {tuple(images.shape)}")
        if self.config.width < 8:
            # Images come channels-last (a view of (B, H, W, 3) pixels; oneDNN's convolutions are ~25% faster
            # on it), but torch 2.13's CPU backward of a strided 1x1 convolution over channels-last input with
            # 2-7 channels corrupts the heap (an AVX2 machine; tests/tasks/test_caption.py): such narrow
            # encoders run in the plain layout.
            images = images.contiguous()
        features = torch.relu(self.net(images))  # (B, D, h, w)
        batch, depth, height, width = features.shape
        memory = features.flatten(2).transpose(1, 2)  # (B, h*w, D), row-major cells
        mask = torch.ones(batch, height * width, dtype=torch.bool, device=images.device)
        return ImageGrid(memory, mask, (height, width))


# ---------------------------------------------------------------------------------------------- captioner
@dataclass
class CaptionerConfig:
    """The captioning model (saved in the model directory's config.json)."""

    encoder: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    attention: Literal["bahdanau", "general", "dot", "none"] = "bahdanau"  # none: Show and Tell
    # Show and Tell reads the image once: "state" maps it to the LSTM's starting state; "input" (the paper's
    # own set-up) feeds it as the LSTM's first input, x_{-1} = W_I CNN(I), from a zero state, before <s>
    image_as: Literal["state", "input"] = "state"
    embed_dim: int = 64
    hidden_size: int = 256
    decoder_layers: int = 1
    input_feeding: bool = True  # the previous attentional vector is read with the previous word
    dropout: float = 0.2

    def __post_init__(self) -> None:
        require_sizes(self, "embed_dim hidden_size", high=MAX_WIDTH)
        require_sizes(self, "decoder_layers", high=min(MAX_LAYERS, 8))
        require_fractions(self, "dropout")
        require(self.image_as == "state" or self.attention == "none", "image_as",
                "state with attention (an attentional decoder reads the image at every step); input needs "
                "attention: none", {"image_as": self.image_as, "attention": self.attention})  # fmt: skip
        require(self.attention != "dot" or self.hidden_size == self.encoder.feature_size, "attention",
                "bahdanau or general when hidden_size != encoder.feature_size (dot needs them equal)",
                {"attention": self.attention, "hidden_size": self.hidden_size,
                 "feature_size": self.encoder.feature_size})  # fmt: skip


def doubly_stochastic_penalty(weights: Tensor, target_mask: Tensor | None = None) -> Tensor:
    """Xu et al.'s attention regulariser, summed over the batch: sum_i (1 - sum_t alpha_ti)^2.

    weights (B, T, S); target_mask (B, T) bool, True at real target steps (padding steps do not count).
    As in the paper's equation (9), each cell's total weight over the caption is pulled towards 1; the T
    steps hand out T in all, so the penalty is smallest when the words' attention covers the cells as
    evenly as T allows.
    """
    if target_mask is not None:
        weights = weights * target_mask.unsqueeze(-1).to(weights.dtype)
    return ((1.0 - weights.sum(dim=1)) ** 2).sum()


class Captioner(nn.Module):
    """ImageEncoder + a bridge from the mean feature + the seq2seq Decoder (attentional or plain)."""

    def __init__(self, config: CaptionerConfig, vocab_size: int, bos_id: int, eos_id: int, pad_id: int) -> None:
        super().__init__()
        self.config, self.bos_id, self.eos_id, self.pad_id = config, bos_id, eos_id, pad_id
        self.encoder = ImageEncoder(config.encoder)
        features = config.encoder.feature_size
        layers, hidden = config.decoder_layers, config.hidden_size
        if config.image_as == "input":  # x_{-1}: the image in the word embedding space
            self.image_in = nn.Linear(features, config.embed_dim)
        else:
            self.init_h = nn.Linear(features, layers * hidden)
            self.init_c = nn.Linear(features, layers * hidden)
        attention = None if config.attention == "none" else config.attention
        self.decoder = Decoder(vocab_size, config.embed_dim, hidden, layers, "lstm", attention, features,
                               config.input_feeding, config.dropout, pad_id=pad_id)  # fmt: skip

    @property
    def attends(self) -> bool:
        return self.decoder.attention is not None

    def encode(self, images: Tensor) -> dict[str, Any]:
        """images (B, 3, H, W) -> the decoder's starting state (a dict of batch-first tensors but "hidden")."""
        grid = self.encoder(images)
        batch, layers, hidden = images.size(0), self.config.decoder_layers, self.config.hidden_size
        mean = grid.mean  # (B, D)
        if self.config.image_as == "input":  # one LSTM step on the image from a zero state, then <s> follows
            zeros = mean.new_zeros(layers, batch, hidden)
            _, state = self.decoder.rnn(self.decoder.dropout(self.image_in(mean)).unsqueeze(1), (zeros, zeros))
            return self.decoder.init_state(state, grid)
        h0 = torch.tanh(self.init_h(mean)).view(batch, layers, hidden).transpose(0, 1).contiguous()
        c0 = torch.tanh(self.init_c(mean)).view(batch, layers, hidden).transpose(0, 1).contiguous()
        return self.decoder.init_state((h0, c0), grid)  # ImageGrid has memory and mask, as EncoderOutput

    def forward(self, images: Tensor, tgt_in: Tensor) -> tuple[Tensor, Tensor | None]:
        """Teacher forcing: images (B, 3, H, W), tgt_in (B, T) = [bos, y_1 .. y_{T-1}] -> logits (B, T, V),
        attention weights (B, T, S) (None without attention)."""
        return self.decoder(tgt_in, self.encode(images))

    # the decoding protocol of rnnlab.nn.decoding (the same as Seq2Seq's)
    def step(self, tokens: Tensor, state: dict[str, Any]) -> tuple[Tensor, dict[str, Any]]:
        logits, state, _ = self.decoder.step(tokens, state)
        return logits, state

    reorder_state = staticmethod(Seq2Seq.reorder_state)

    @torch.no_grad()
    def caption(self, images: Tensor, *, method: str = "greedy", beam_size: int = 3, max_len: int = 20,
                alpha: float = 0.0, temperature: float = 1.0, generator: torch.Generator | None = None,
                ) -> list[Hypothesis]:  # fmt: skip
        """The best caption of each image: greedy, beam (`beam_size`, length penalty `alpha`) or sample."""
        state = self.encode(images)
        start = torch.full((images.size(0),), self.bos_id, dtype=torch.long, device=images.device)
        if method == "beam":
            return [hyps[0] for hyps in beam_search(self.step, state, start, reorder_state=self.reorder_state,
                                                    beam_size=beam_size, eos_id=self.eos_id, max_len=max_len,
                                                    alpha=alpha)]  # fmt: skip
        if method == "greedy":
            return greedy_decode(self.step, state, start, eos_id=self.eos_id, max_len=max_len)
        if method == "sample":
            return sample_decode(self.step, state, start, eos_id=self.eos_id, max_len=max_len,
                                 temperature=temperature, generator=generator)  # fmt: skip
        raise ValueError(f"method must be greedy / beam / sample, got {method!r}")

    @torch.no_grad()
    def attention_of(self, images: Tensor, tokens: list[list[int]]) -> list[Tensor]:
        """The attention weights (len(tokens[i]) + 1, S) the decoder gives while reading caption i (its words
        and the end-of-sequence step), by teacher forcing the caption: what each word looked at."""
        if not self.attends:
            raise ValueError("this captioner has no attention (attention: none)")
        width = max(len(row) for row in tokens) + 1
        tgt_in = torch.full((len(tokens), width), self.pad_id, dtype=torch.long, device=images.device)
        for row, ids in enumerate(tokens):
            tgt_in[row, : len(ids) + 1] = torch.tensor([self.bos_id, *ids], dtype=torch.long)
        _, weights = self(images, tgt_in)
        return [weights[row, : len(ids) + 1].cpu() for row, ids in enumerate(tokens)]
