"""Visual question answering: a CNN grid of image features (the captioner's `ImageEncoder`), an LSTM question
encoder (the `SequenceToVector` block of `rnnlab.nn.seq2vec`) and one of six heads that combine them into
scores over the answers (answering is classification).

    model = VQAModel(VQAModelConfig(head="attention"), vocab_size=200, num_answers=12)
    logits, attention = model(images, image_index, ids, mask)
    # images (M, 3, H, W) in [-1, 1]; image_index (B,) the image row of each question (a scene asked several
    # questions is encoded once); ids, mask (B, L) question tokens -> logits (B, A), attention (B, hops, S)

Every cell of the grid gets its (row, column) centre in [-1, 1] appended (Santoro et al.'s coordinates),
so all heads can tell where a feature is: V (B, S, D + 2), S = h * w. The question is q (B, Q).

| head | what it is | source |
|---|---|---|
| `question` | MLP(q): the question-only baseline | Antol et al. 2015, "LSTM Q" |
| `image` | MLP(flatten V): the image-only baseline, the most frequent answer given the image | ibid. |
| `concat` | MLP([W flatten V; q]) | the CNN+LSTM / CNN+MLP baseline |
| `product` | MLP(tanh(W flatten V) * tanh(W' q)) | Antol et al. 2015, "deeper LSTM Q + norm I" fusion |
| `attention` | stacked attention, `hops` hops: u_0 = W q; per hop h = tanh(W_I V + W_u u), p = softmax(w h) over the S cells, u += sum_s p_s W_v V_s; MLP(u) | Yang et al. 2016 (SAN) |
| `relation` | MLP_f(mean over all cell pairs (i, j) of MLP_g([V_i; V_j; q])) | Santoro et al. 2017 (RN; their sum / S^2) |

The relation head computes g's first layer as W_a V_i + W_b V_j + W_q q + b (the same as the layer on the
concatenation) and broadcasts the sum over the S x S pairs, so only g's later layers pay for S^2 pairs.

Attention supervision (`attention_supervision` w > 0, attention head only): training adds
w * `attention_supervision_loss`, the mean over the questions that name an object of -log(the first hop's
weight on the cells that overlap its box), "supervised attention" as in Qiao et al. 2018 ("Exploring
human-like attention supervision in visual question answering").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from rnnlab.config import require, require_fractions, require_sizes
from rnnlab.nn.captioner import MAX_WIDTH, ImageEncoder, ImageEncoderConfig
from rnnlab.nn.seq2vec import SequenceToVector, SequenceToVectorConfig

__all__ = ["HEADS", "VQAModel", "VQAModelConfig", "attention_supervision_loss"]

HEADS = ("question", "image", "concat", "product", "attention", "relation")
Head = Literal["question", "image", "concat", "product", "attention", "relation"]
MAX_SUPERVISION = 100.0  # attention_supervision above this is a slip (the answer loss is O(1))


def _question_defaults() -> SequenceToVectorConfig:
    return SequenceToVectorConfig(cell="lstm", embedding_size=64, hidden_size=128, bidirectional=False,
                                  dropout=0.0, pooling="last")  # fmt: skip


def _encoder_defaults() -> ImageEncoderConfig:
    return ImageEncoderConfig(width=24, stages=4, blocks=1, feature_size=64)  # 64 px -> a 4x4 grid of 64-d


@dataclass
class VQAModelConfig:
    """The `model:` section of the vqa task (saved in the model directory's config.json)."""

    head: Head = "attention"
    encoder: ImageEncoderConfig = field(default_factory=_encoder_defaults)
    question: SequenceToVectorConfig = field(default_factory=_question_defaults)  # its linear head gives q
    question_size: int = 128  # Q: the question vector
    hidden_size: int = 256  # the answer MLP's (and the fusions') width
    hops: int = 2  # attention head: stacked attention hops
    relation_size: int = 256  # relation head: g's width (g has relation_layers layers)
    relation_layers: int = 3
    dropout: float = 0.1
    attention_supervision: float = 0.0  # attention head: weight of the loss on hop 1's weight off the named
    # object's box (0 = off; `attention_supervision_loss`)

    def __post_init__(self) -> None:
        require(self.head in HEADS, "head", " / ".join(HEADS), self.head)
        require_sizes(self, "question_size hidden_size relation_size", high=MAX_WIDTH)
        require(1 <= self.hops <= 8, "hops", "an integer from 1 to 8", self.hops)
        require(1 <= self.relation_layers <= 8, "relation_layers", "an integer from 1 to 8", self.relation_layers)
        require_fractions(self, "dropout")
        w = self.attention_supervision
        require(isinstance(w, (int, float)) and 0.0 <= w <= MAX_SUPERVISION, "attention_supervision",
                f"a number from 0 (off) to {MAX_SUPERVISION:g}", w)  # fmt: skip
        require(w == 0 or self.head == "attention", "attention_supervision",
                "0 (off) unless head is attention (the only head with attention weights to supervise)",
                {"head": self.head, "attention_supervision": w})  # fmt: skip


def attention_supervision_loss(attention: Tensor, cells: Tensor) -> Tensor | None:
    """attention (B, S): one hop's weights (each row sums to 1); cells (B, S) bool: the cells that overlap
    the box of the object each question names (a row of False: the question names none) -> the mean over
    the questions with a box of -log(sum of their weight on those cells), a scalar; None when no question
    of the batch has a box. 0 when all the weight is on the box, growing as weight leaves it."""
    boxed = cells.any(dim=-1)  # (B,)
    if not bool(boxed.any()):
        return None
    on_box = (attention.float() * cells).sum(dim=-1)[boxed]  # (N,) in [0, 1]
    return -torch.log(on_box.clamp_min(1e-12)).mean()  # the clamp keeps an underflowed 0 finite


def _mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear-ReLU layers through `sizes` (no ReLU after the last), dropout before the last."""
    layers: list[nn.Module] = []
    for index, (size_in, size_out) in enumerate(zip(sizes, sizes[1:])):
        if index == len(sizes) - 2 and dropout:
            layers.append(nn.Dropout(dropout))
        layers.append(nn.Linear(size_in, size_out))
        if index < len(sizes) - 2:
            layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class VQAModel(nn.Module):
    """ImageEncoder + SequenceToVector question encoder + one head (module docstring)."""

    def __init__(self, config: VQAModelConfig, vocab_size: int, num_answers: int, image_size: int,
                 pad_id: int = 0) -> None:  # fmt: skip
        super().__init__()
        self.config = config
        head, hidden, depth = config.head, config.hidden_size, config.encoder.feature_size + 2
        self.encoder = ImageEncoder(config.encoder)
        with torch.no_grad():  # the grid's shape for this image size
            self.grid = self.encoder.eval()(torch.zeros(1, 3, image_size, image_size)).shape
            self.encoder.train()
        cells = self.grid[0] * self.grid[1]
        rows, columns = torch.meshgrid(torch.linspace(-1, 1, self.grid[0]), torch.linspace(-1, 1, self.grid[1]),
                                       indexing="ij")  # fmt: skip
        self.register_buffer("coordinates", torch.stack([rows, columns], -1).reshape(cells, 2), persistent=False)
        self.question = SequenceToVector(config.question, vocab_size, config.question_size, pad_id)
        q = config.question_size
        if head == "question":
            self.answer = _mlp([q, hidden, num_answers], config.dropout)
        elif head == "image":
            self.answer = _mlp([cells * depth, hidden, hidden, num_answers], config.dropout)
        elif head in ("concat", "product"):
            self.image_in = nn.Linear(cells * depth, hidden)
            self.question_in = nn.Linear(q, hidden) if head == "product" else nn.Identity()
            self.answer = _mlp([hidden + (q if head == "concat" else 0), hidden, num_answers], config.dropout)
        elif head == "attention":
            self.query_in = nn.Linear(q, hidden)
            self.value_in = nn.Linear(depth, hidden)
            self.hop_image = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(config.hops))
            self.hop_query = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(config.hops))
            self.hop_score = nn.ModuleList(nn.Linear(hidden, 1) for _ in range(config.hops))
            self.answer = _mlp([hidden, hidden, num_answers], config.dropout)
        else:  # relation
            width = config.relation_size
            self.g_first, self.g_second, self.g_question = nn.Linear(depth, width), nn.Linear(depth, width, bias=False), \
                nn.Linear(q, width, bias=False)  # fmt: skip
            self.g_rest = _mlp([width] * config.relation_layers) if config.relation_layers > 1 else nn.Identity()
            self.answer = _mlp([width, hidden, hidden, num_answers], config.dropout)

    @property
    def attends(self) -> bool:
        return self.config.head == "attention"

    def features(self, images: Tensor) -> Tensor:
        """images (M, 3, H, W) -> V (M, S, D + 2): grid features with their cells' coordinates."""
        memory = self.encoder(images).memory
        coordinates = self.coordinates.to(memory.dtype).expand(memory.size(0), -1, -1)
        return torch.cat([memory, coordinates], dim=-1)

    def forward(self, images: Tensor, image_index: Tensor, ids: Tensor, mask: Tensor) -> tuple[Tensor, Tensor | None]:
        """images (M, 3, H, W), image_index (B,) long, ids / mask (B, L) -> logits (B, A), attention (B, hops,
        S) for the attention head (each hop's weights sum to 1 over the S cells), else None."""
        head = self.config.head
        q = self.question(ids, mask) if head != "image" else None  # (B, Q)
        if head == "question":
            return self.answer(q), None
        values = self.features(images)[image_index]  # (B, S, D + 2)
        if head == "image":
            return self.answer(values.flatten(1)), None
        if head in ("concat", "product"):
            image = self.image_in(values.flatten(1))  # (B, H)
            if head == "concat":
                return self.answer(torch.cat([torch.relu(image), q], dim=-1)), None
            # both codes signed in (-1, 1): a ReLU before the tanh would leave the image code only [0, 1)
            return self.answer(torch.tanh(image) * torch.tanh(self.question_in(q))), None
        if head == "attention":
            return self._stacked_attention(values, q)
        return self._relation(values, q), None

    def _stacked_attention(self, values: Tensor, q: Tensor) -> tuple[Tensor, Tensor]:
        cells = torch.tanh(self.value_in(values))  # (B, S, H)
        query = torch.tanh(self.query_in(q))  # (B, H): u_0
        weights = []
        for image_in, query_in, score in zip(self.hop_image, self.hop_query, self.hop_score):
            scores = score(torch.tanh(image_in(cells) + query_in(query).unsqueeze(1))).squeeze(-1)  # (B, S)
            p = torch.softmax(scores, dim=-1)
            query = query + torch.bmm(p.unsqueeze(1), cells).squeeze(1)  # u_k = u_{k-1} + attended image
            weights.append(p)
        return self.answer(query), torch.stack(weights, dim=1)

    def _relation(self, values: Tensor, q: Tensor) -> Tensor:
        first = self.g_first(values)  # (B, S, W): W_a V_i + b
        second = self.g_second(values)  # (B, S, W): W_b V_j
        pairs = first.unsqueeze(2) + second.unsqueeze(1) + self.g_question(q)[:, None, None, :]  # (B, S, S, W)
        related = self.g_rest(torch.relu(pairs))
        if not isinstance(self.g_rest, nn.Identity):
            related = torch.relu(related)
        return self.answer(related.mean(dim=(1, 2)))  # the paper's sum / S^2: f's input stays O(1)
