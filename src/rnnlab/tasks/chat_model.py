"""A trained chat model (`Chatbot`), its evaluation (`rnnlab eval`) and the `chat` verb.

    bot = load_chatbot("runs/chat-chitchat-hred")
    bot.reply([["hi!", "hey, how are you?", "good, you?"]])             # [[Translation(text, score, ...)]]
    bot.score_pairs(["i love dogs"], ["do you have pets?"])            # log p(reply | one-turn context)

The `chat` verb reads two kinds of input:
* messages (command-line arguments, or lines typed / piped in when no input is given): each one a turn of
  the conversation named by `--conversation` (default "default"), which the loaded model keeps between
  calls, so the interactive prompt, a pipe and a server (one loaded model, the option in the request body)
  all hold a conversation. `/reset` starts it again, `/persona NAME` answers as NAME (a speaker the model
  knows), `/persona` alone drops it. Bad input never ends the session: an unknown command, an unknown
  persona, a message of only unknown words or a paste longer than `data.max_len` tokens is one warning line
  on stderr (and in the result's "warnings"), and the chat goes on;
* `--input FILE` of conversations (JSON lines or blank-line separated turns, `rnnlab.data.dialogue`): one
  reply per conversation, to its last turns; a conversation's "persona" (or `--persona`) is who answers.

Decoding: beam (default), greedy or sample (`--temperature`, `--top-k`, `--top-p`, `--seed`), through
`rnnlab.nn.decoding`. `--mmi REVERSE_MODEL` reranks the n-best of a beam (of 20 unless `--beam`) by
log p(r | c) + w_rev log p(c_last | r) + w_len |r| with the translation task's noisy-channel reranker; the
reverse model is a chat model trained with `reverse: true` (configs/chat/chitchat_reverse.yaml).
"""

from __future__ import annotations

import functools
import json
import random
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from rnnlab.config import config_from_dict
from rnnlab.data.dialogue import Conversation, read_conversations
from rnnlab.data.subword import UNK_ID, SubwordVocab
from rnnlab.errors import ConfigError, DataError, UserError
from rnnlab.nn.decoding import beam_search, greedy_decode, sample_decode
from rnnlab.nn.hred import HRED, SingleTurn
from rnnlab.tasks.chat import (
    NO_PERSONA,
    TASK_NAME,
    ChatConfig,
    EncodedExample,
    load_conversations,
    make_chat_batch,
    model_for,
    perplexity,
    reference_scores,
    text_pairs,
)
from rnnlab.tasks.chat_metrics import distinct, recall_at_k, tfidf_scores
from rnnlab.tasks.noisy_channel import NoisyChannelReranker, NoisyChannelWeights
from rnnlab.tasks.registry import EvalRequest
from rnnlab.tasks.translator import Translation
from rnnlab.train import move_to
from rnnlab.validation import check_option
from rnnlab.verbs import Verb

__all__ = ["CHAT_VERB", "ChatOptions", "Chatbot", "evaluate", "format_evaluation", "load_chatbot", "run_chat"]

MAX_SESSIONS = 1000  # conversations a loaded model keeps (least recently used dropped first)
RANKING_CANDIDATES = 10  # 1 true response among 10


def warn(message: str) -> None:
    print(f"rnnlab: warning: {message}", file=sys.stderr)


@dataclass
class Session:
    turns: list[str] = field(default_factory=list)
    persona: str | None = None


class Chatbot:
    """A trained chat model with its vocabulary and personas: reply, score, and the conversations it holds."""

    def __init__(self, model: HRED | SingleTurn, vocab: SubwordVocab, personas: list[str], config: ChatConfig):
        self.model, self.vocab, self.personas, self.config = model, vocab, personas, config
        self.persona_ids = {name: i for i, name in enumerate(personas)}
        self.sessions: OrderedDict[str, Session] = OrderedDict()
        self.lock = threading.Lock()  # a server may run requests in threads

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def persona_id(self, name: str | None) -> int:
        """The id of a persona name (case-insensitive); UserError naming some known ones."""
        if not name:
            return 0
        key = name.strip().upper()
        if key in self.persona_ids and key != NO_PERSONA:
            return self.persona_ids[key]
        known = [p for p in self.personas[1:]]
        shown = ", ".join(known[:12]) + (", ..." if len(known) > 12 else "")
        raise UserError(f"unknown persona {name!r}; this model knows " + (shown or "none (trained without personas)"))

    def encode_turns(self, turns: Sequence[str], warnings: list[str] | None = None) -> list[list[int]]:
        """The last `data.max_turns` non-empty turns as ids, each cut to its last `data.max_len` tokens."""
        limit = self.config.data.max_len
        encoded = []
        for turn in list(turns)[-self.config.data.max_turns :]:
            ids = self.vocab.encode(" ".join(turn.split()))
            if warnings is not None and len(ids) > limit:
                warnings.append(f"message of {len(ids)} subword tokens, longer than data.max_len={limit}; "
                                f"reading only its last {limit}")  # fmt: skip
            if ids:
                encoded.append(ids[-limit:])
        return encoded

    def example(self, turns: Sequence[str], response: str = ".", persona: str | None = None) -> EncodedExample:
        encoded = self.encode_turns(turns) or [[UNK_ID]]
        target = self.vocab.encode(response)[: self.config.data.max_len] or [UNK_ID]
        return EncodedExample(encoded, self.persona_id(persona) if persona else 0, target, 0)

    @torch.no_grad()
    def reply(self, contexts: Sequence[Sequence[str]], personas: Sequence[str | None] | None = None, *,
              method: str | None = None, beam_size: int | None = None, n_best: int = 1,
              temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
              seed: int | None = None) -> list[list[Translation]]:  # fmt: skip
        """n-best replies to each context (a list of turns, oldest first), best first."""
        decode = self.config.decode
        method = method or decode.method
        beam_size = max(beam_size or decode.beam_size, n_best)
        personas = personas or [None] * len(contexts)
        self.model.eval()
        generator = torch.Generator(device=self.device).manual_seed(seed) if seed is not None else None
        results: list[list[Translation]] = []
        for start in range(0, len(contexts), decode.batch_size):
            items = [self.example(c, persona=p) for c, p in zip(contexts[start : start + decode.batch_size],
                                                                personas[start : start + decode.batch_size])]  # fmt: skip
            batch = move_to(make_chat_batch(items), self.device)
            state = self.model.start(batch)
            first = torch.full((len(items),), self.model.bos_id, dtype=torch.long, device=self.device)
            common = dict(eos_id=self.model.eos_id, max_len=decode.max_len, no_repeat_ngram_size=decode.no_repeat_ngram_size)
            step = self._step_without_unk
            if method == "beam":
                hyps = beam_search(step, state, first, reorder_state=self.model.reorder_state,
                                   beam_size=beam_size, n_best=n_best, alpha=decode.alpha, **common)  # fmt: skip
            elif method == "greedy":
                hyps = [[h] for h in greedy_decode(step, state, first, **common)]
            else:
                hyps = [[h] for h in sample_decode(step, state, first, temperature=temperature,
                                                   top_k=top_k, top_p=top_p, generator=generator, **common)]  # fmt: skip
            results.extend([Translation(self.vocab.decode(h.tokens), h.score, h.log_prob, list(h.tokens))
                            for h in nbest] for nbest in hyps)  # fmt: skip
        return results

    def _step_without_unk(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """The model's step with <unk> never chosen (a reply of "⁇" says nothing)."""
        logits, state = self.model.step(tokens, state)
        return logits.index_fill(-1, torch.tensor([UNK_ID], device=logits.device), float("-inf")), state

    def score(self, contexts: Sequence[Sequence[str]], responses: Sequence[str],
              personas: Sequence[str | None] | None = None) -> list[tuple[float, int]]:  # fmt: skip
        """(log p(response | context), tokens incl. eos) of each pair."""
        personas = personas or [None] * len(contexts)
        items = [self.example(c, r, p) for c, r, p in zip(contexts, responses, personas)]
        return reference_scores(self.model, items, self.config.decode.batch_size)

    @torch.no_grad()
    def rank_scores(self, contexts: Sequence[Sequence[str]], responses: Sequence[str],
                    personas: Sequence[str | None] | None = None) -> list[float]:  # fmt: skip
        """The ranker's score of each (context, response) pair (higher: a better reply); models trained with
        `model.ranking_weight` > 0 only (`has_ranker`)."""
        if not self.has_ranker:
            raise UserError("this chat model has no response ranker (train it with model.ranking_weight > 0)")
        personas = personas or [None] * len(contexts)
        items = [self.example(c, r, p) for c, r, p in zip(contexts, responses, personas)]
        self.model.eval()
        out: list[float] = []
        for start in range(0, len(items), self.config.decode.batch_size):
            batch = move_to(make_chat_batch(items[start : start + self.config.decode.batch_size]), self.device)
            out.extend(self.model.pair_scores(batch).tolist())
        return out

    @property
    def has_ranker(self) -> bool:
        return isinstance(self.model, HRED) and self.model.ranker is not None

    def score_pairs(self, sources: Sequence[str], targets: Sequence[str]) -> list[float]:
        """log p(target | source as a one-turn context): what the noisy-channel reranker asks a reverse model."""
        return [s for s, _ in self.score([[s] for s in sources], list(targets))]

    def session(self, name: str) -> Session:
        with self.lock:
            session = self.sessions.pop(name, None) or Session()
            self.sessions[name] = session
            while len(self.sessions) > MAX_SESSIONS:
                self.sessions.popitem(last=False)
            return session


def load_chatbot(path: str | Path, device: str = "cpu") -> Chatbot:
    """A Chatbot from a model directory written by `rnnlab train chat` (a run directory: its best/)."""
    from rnnlab.train import load_model_dir, load_model_weights

    checkpoint = load_model_dir(path, TASK_NAME, map_location=device)
    config = config_from_dict(ChatConfig, checkpoint.config.get("config", {}), f"{checkpoint.path}/config.json")
    vocab = SubwordVocab(checkpoint.read_bytes("spm.model"))
    personas = json.loads(checkpoint.read_bytes("personas.json").decode("utf-8"))
    model = model_for(config, vocab, personas)
    load_model_weights(model, checkpoint)
    return Chatbot(model.to(device).eval(), vocab, personas, config)


@functools.lru_cache(maxsize=4)
def reverse_model(path: str) -> Chatbot:
    """A reverse chat model for --mmi, loaded once per path."""
    bot = load_chatbot(path)
    if not bot.config.reverse:
        warn(f"--mmi {path}: this chat model was not trained with reverse: true; scoring with it anyway")
    return bot


# ------------------------------------------------------------------------------------------ evaluation
def evaluate(path: str | Path, request: EvalRequest) -> dict[str, Any]:
    """Reference perplexity, R@1 of 1-in-10 ranking (and TF-IDF's on the same candidates), distinct-1/2 of
    the configured decoding, on a split of the model's conversations or a file of conversations."""
    bot = load_chatbot(path)
    config = bot.config
    if request.data_file:
        conversations, where = read_conversations(request.data_file), request.data_file
    else:
        conversations = list(request.examples_of(load_conversations(config.data)))
        where = f"{config.data.dataset} {request.split}"
    return evaluate_chatbot(bot, conversations, where)


def evaluate_chatbot(bot: Chatbot, conversations: Sequence[Conversation], where: str = "",
                     reranker: NoisyChannelReranker | None = None, candidates: int | None = None) -> dict[str, Any]:  # fmt: skip
    """The metrics of `evaluate` on these conversations; with a reranker, the replies are its pick among the
    n-best of a beam of `candidates` (default: the configured beam size)."""
    config = bot.config
    pairs = list(text_pairs(conversations, config.data.max_turns, config.reverse))
    if not pairs:
        raise DataError(f"{where}: no (context, response) examples; conversations need at least two turns")
    personas = [bot.personas[bot.persona_ids.get(r.speaker or "", 0)] if len(bot.personas) > 1 else None
                for _, r, _ in pairs]  # fmt: skip
    personas = [None if p == NO_PERSONA else p for p in personas]
    limit = config.eval.max_examples or len(pairs)
    contexts = [[t.text for t in c] for c, _, _ in pairs]
    responses = [r.text for _, r, _ in pairs]
    ppl = perplexity(bot.score(contexts[:limit], responses[:limit], personas[:limit]))
    result: dict[str, Any] = {"data": where, "examples": min(limit, len(pairs)), "model": config.model.kind,
                              "ppl": round(ppl, 3)}  # fmt: skip
    # R@1: the true response among 9 drawn from other conversations (seeded; the same for every model)
    rng = random.Random(0)
    ranked = [i for i in range(len(pairs))]
    rng.shuffle(ranked)
    ranked = ranked[: config.eval.ranking_examples]
    if ranked and len({pairs[i][2] for i in range(len(pairs))}) > 1:
        cand_ctx, cand_resp, cand_persona, groups = [], [], [], []
        for i in ranked:
            others = [j for j in rng.sample(range(len(pairs)), min(len(pairs), 40)) if pairs[j][2] != pairs[i][2]]
            group = [i, *others[: RANKING_CANDIDATES - 1]]
            groups.append(group)
            for j in group:
                cand_ctx.append(contexts[i])
                cand_resp.append(responses[j])
                cand_persona.append(personas[i])
        scores = bot.score(cand_ctx, cand_resp, cand_persona)
        # PMI ranking, log p(r | c) - log p(r): how much the context raises the response's probability. Ranked
        # by likelihood alone, short generic replies ("That's awesome!") win for every context. p(r) is the
        # same model's with an empty context (an approximation of the marginal; Li et al. 2016's MMI-antiLM).
        unique = sorted(set(cand_resp))
        prior = dict(zip(unique, (s for s, _ in bot.score([[]] * len(unique), unique))))
        rows, per_token, k = [], [], 0
        for group in groups:
            part = scores[k : k + len(group)]
            rows.append([s - prior[r] for (s, _), r in zip(part, cand_resp[k : k + len(group)])])
            per_token.append([s / max(n, 1) for s, n in part])
            k += len(group)
        if bot.has_ranker:  # the dual encoder's scores, when the model has one
            ranker = iter(bot.rank_scores(cand_ctx, cand_resp, cand_persona))  # in the order of the groups
            result["r_at_1_ranker"] = round(recall_at_k([[next(ranker) for _ in group] for group in groups], 1), 4)
        documents = [*responses, *(" ".join(c) for c in contexts)]
        tfidf = tfidf_scores([" ".join(contexts[g[0]]) for g in groups],
                             [[responses[j] for j in g] for g in groups], documents)  # fmt: skip
        result.update({"ranking_examples": len(groups), "r_at_1": round(recall_at_k(rows, 1), 4),
                       "r_at_1_likelihood": round(recall_at_k(per_token, 1), 4),
                       "r_at_1_tfidf": round(recall_at_k(tfidf, 1), 4), "r_at_1_random": round(1 / RANKING_CANDIDATES, 4)})  # fmt: skip
    n = config.eval.generate_examples
    if n:
        decode = config.decode
        n_best = (candidates or decode.beam_size) if reranker else 1
        nbest = bot.reply(contexts[:n], personas[:n], beam_size=max(decode.beam_size, n_best), n_best=n_best)
        if reranker is not None:
            nbest = reranker.rerank([c[-1] for c in contexts[:n]], nbest)
        replies = [hyps[0].text for hyps in nbest]
        result.update({"generated": len(replies), "decoding": decode.method + (" + mmi" if reranker else ""),
                       "distinct_1": round(distinct(replies, 1), 4), "distinct_2": round(distinct(replies, 2), 4),
                       "reference_distinct_1": round(distinct(responses[:n], 1), 4),
                       "reference_distinct_2": round(distinct(responses[:n], 2), 4),
                       "samples": [{"context": c[-1], "reply": r, "reference": ref}
                                   for c, r, ref in zip(contexts[:5], replies[:5], responses[:5])]})  # fmt: skip
    return result


def format_evaluation(result: dict[str, Any]) -> str:
    lines = [f"{result['data']}: {result['examples']} examples, {result['model']} model",
             f"reference perplexity = {result['ppl']:.2f}"]  # fmt: skip
    if "r_at_1" in result:
        lines.append(f"R@1 of 1-in-{RANKING_CANDIDATES} = {result['r_at_1']:.3f} by log p(r|c) - log p(r)   (per-token "
                     f"log p(r|c) {result['r_at_1_likelihood']:.3f}, TF-IDF {result['r_at_1_tfidf']:.3f}, "
                     f"random {result['r_at_1_random']:.3f}; {result['ranking_examples']} examples)")  # fmt: skip
        if "r_at_1_ranker" in result:
            lines.append(f"R@1 of 1-in-{RANKING_CANDIDATES} = {result['r_at_1_ranker']:.3f} by the model's response ranker")
    if "distinct_1" in result:
        lines.append(f"distinct-1 / -2 = {result['distinct_1']:.3f} / {result['distinct_2']:.3f}   ({result['decoding']}, "
                     f"{result['generated']} replies; references {result['reference_distinct_1']:.3f} / "
                     f"{result['reference_distinct_2']:.3f})")  # fmt: skip
        lines += [f"  > {s['context']}\n  < {s['reply']}" for s in result["samples"]]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ verb
#: --mmi reranks the 20-best of a beam of 20 by default: the 5-best of the usual beam are variations of one
#: generic reply, and MMI has little to choose from (docs/dialogue.md, chitchat validation: distinct-1 1.14x
#: plain beam's with a 10-best, 1.40x with a 20-best; Li et al. 2016 rerank a 200-best)
MMI_BEAM = 20


@dataclass
class ChatOptions:
    conversation: str = field(default="default", metadata={"help": "which conversation messages belong to (a server keeps one per id)"})  # fmt: skip
    persona: str | None = field(default=None, metadata={"help": "answer as this speaker (a persona the model knows)"})
    method: Literal["beam", "greedy", "sample"] = field(default="beam", metadata={"help": "decoding"})
    beam: int | None = field(default=None, metadata={"help": f"beam size (default: the model's config; with --mmi, {MMI_BEAM})"})
    n_best: int = field(default=1, metadata={"help": "return this many candidate replies (beam)"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature (--method sample)"})
    top_k: int | None = field(default=None, metadata={"help": "sample from the k most likely tokens"})
    top_p: float | None = field(default=None, metadata={"help": "nucleus sampling: the smallest set of tokens of this mass"})  # fmt: skip
    seed: int | None = field(default=None, metadata={"help": "seed of the sampler"})
    mmi: str | None = field(default=None, metadata={"help": "reverse chat model p(context | reply) to rerank the beam (MMI)", "path": True})  # fmt: skip
    reverse_weight: float = field(default=1.0, metadata={"help": "MMI: weight of log p(context | reply)"})
    length_weight: float = field(default=0.0, metadata={"help": "MMI: bonus per reply subword"})

    def __post_init__(self) -> None:
        for name in ("beam", "n_best", "temperature", "top_k", "top_p", "seed", "reverse_weight", "length_weight"):
            setattr(self, name, check_option(name, getattr(self, name)))
        if self.method != "beam" and (self.n_best > 1 or self.mmi):
            raise ConfigError("--n-best > 1 and --mmi need --method beam")
        if not self.conversation.strip() or len(self.conversation) > 200:
            raise ConfigError("--conversation: expected a name of 1 to 200 characters")


def _replies(bot: Chatbot, contexts: list[list[str]], personas: list[str | None], options: ChatOptions):
    reranker = None
    if options.mmi:
        weights = NoisyChannelWeights(reverse=options.reverse_weight, length=options.length_weight)
        reranker = NoisyChannelReranker(None, reverse_model(options.mmi), weights)
    beam = options.beam or (MMI_BEAM if reranker else bot.config.decode.beam_size)
    n_best = max(options.n_best, beam if reranker else 1) if options.method == "beam" else 1
    nbest = bot.reply(contexts, personas, method=options.method, beam_size=max(beam, n_best), n_best=n_best,
                      temperature=options.temperature, top_k=options.top_k, top_p=options.top_p, seed=options.seed)  # fmt: skip
    if reranker is not None:
        nbest = reranker.rerank([c[-1] for c in contexts], nbest)
    return [hyps[: options.n_best] for hyps in nbest]


def _result(conversation: str, message: str, hyps: list[Translation], notes: list[str], options: ChatOptions) -> dict:
    result: dict[str, Any] = {"conversation": conversation, "message": message, "reply": hyps[0].text}
    if options.n_best > 1:
        result["candidates"] = [{"text": h.text, "score": round(h.score, 4)} for h in hyps]
    if notes:
        result["warnings"] = notes
    return result


def _command(bot: Chatbot, session: Session, name: str, text: str) -> dict:
    """/reset, /persona [NAME]; anything else is a warning, never an error."""
    command, _, argument = text[1:].partition(" ")
    argument = argument.strip()
    if command == "reset":
        session.turns.clear()
        return {"conversation": name, "command": "reset", "note": "new conversation"}
    if command == "persona":
        if not argument:
            session.persona = None
            return {"conversation": name, "command": "persona", "note": "no persona"}
        try:
            bot.persona_id(argument)
        except UserError as error:
            warn(str(error))
            return {"conversation": name, "command": "persona", "note": f"persona unchanged ({session.persona or 'none'})",
                    "warnings": [str(error)]}  # fmt: skip
        session.persona = argument.upper()
        return {"conversation": name, "command": "persona", "note": f"answering as {session.persona}"}
    message = f"unknown command /{command}; expected /reset or /persona NAME"
    warn(message)
    return {"conversation": name, "command": command, "note": "ignored", "warnings": [message]}


def run_chat(bot: Chatbot, inputs: list, options: ChatOptions) -> Iterator[dict]:
    """Messages (str) continue the conversation `options.conversation`; conversations (from --input) get one
    reply each. Yields {"conversation", "message", "reply"} (+ "candidates", "warnings"), or for a command
    {"conversation", "command", "note"}."""
    if options.persona:
        bot.persona_id(options.persona)  # an unknown --persona: refused before any reply
    for item in inputs:
        if isinstance(item, Conversation):
            persona = options.persona or item.persona
            if persona:
                try:
                    bot.persona_id(persona)
                except UserError as error:
                    raise DataError(f"{item.id}: {error}") from None
            turns = [t.text for t in item.turns]
            (hyps,) = _replies(bot, [turns], [persona], options)
            yield _result(item.id, turns[-1], hyps, [], options)
            continue
        text = " ".join(str(item).split())
        session = bot.session(options.conversation)
        if text.startswith("/"):
            yield _command(bot, session, options.conversation, text)
            continue
        notes: list[str] = []
        ids = bot.vocab.encode(text)
        if not ids:
            notes.append("empty message; type some words (or /reset, /persona NAME)")
            warn(notes[-1])
            yield {"conversation": options.conversation, "command": "", "note": "nothing to answer", "warnings": notes}
            continue
        if all(i == UNK_ID for i in ids):
            notes.append("every word of this message is unknown to this model; answering anyway")
        elif UNK_ID in ids:
            unknown = list(dict.fromkeys(bot.vocab.unknown_characters(text)))
            notes.append(f"unknown to this model, read as <unk>: {' '.join(unknown)}")
        bot.encode_turns([text], notes)  # the truncation note
        for note in notes:
            warn(note)
        context = [*session.turns, text]
        (hyps,) = _replies(bot, [context], [options.persona or session.persona], options)
        session.turns[:] = [*context, hyps[0].text or "..."][-2 * bot.config.data.max_turns :]
        yield _result(options.conversation, text, hyps, notes, options)


def format_chat(result: dict, options: ChatOptions) -> str:
    if "reply" not in result:
        return f"# {result['note']}"
    if "candidates" in result:
        return "\n".join(f"{rank}\t{c['score']:.4f}\t{c['text']}" for rank, c in enumerate(result["candidates"], 1))
    return result["reply"]


def read_conversation_file(path: str, options: ChatOptions) -> list[Conversation]:
    if path == "-":
        import tempfile

        with tempfile.NamedTemporaryFile("wb", suffix=".txt", delete=False) as handle:
            handle.write(sys.stdin.buffer.read())
        try:
            return read_conversations(handle.name)
        finally:
            Path(handle.name).unlink()
    return read_conversations(path)


CHAT_VERB = Verb(
    name="chat",
    help="talk with a trained chat model (interactive; /reset, /persona NAME), or reply to conversations",
    description="Reply to messages given as arguments or typed interactively (one conversation, kept between "
                "messages; /reset, /persona NAME), or to each conversation of --input FILE (JSON lines or "
                "blank-line separated turns).",
    options=ChatOptions,
    run=run_chat,
    inputs="text",
    what="messages",
    interactive=True,
    format=format_chat,
    read_file=read_conversation_file,
)  # fmt: skip


