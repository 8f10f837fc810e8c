"""The generated CLI fuzzer (issue #20): every option of every command, fed boundary values by its type.

Unlike the hand-written table (tests/test_cli_fuzz.py), nothing here names an option. `enumerate_cases`
walks `rnnlab.cli.build_parser()` (every sub-command, every argparse action; a verb's options are typed from
its options dataclass, `rnnlab.verbs.option_fields`) and, for `rnnlab train TASK`, every leaf of every task's
config dataclass (`rnnlab.config.config_fields`), so a new command, verb, task or config key is fuzzed
without a line here. Each option gets the values of its kind (`GRIDS`: 0, -1, 2**64, a huge count for an
int; 1e-300, inf, nan for a float; '', '/', a file inside the model directory, a non-UTF-8 file, a
directory for a path; a near-miss for a choice; ...), each put into a VALID base invocation of its command
(`BASES`, written once; a command without one fails `test_every_command_has_a_base`).

`run_cases` runs them in a long-lived worker subprocess (`python -m tests.cli_fuzz_generated --worker`:
one JSON request per line on stdin, one JSON reply per line), which calls `rnnlab.cli.main` in-process with
stdout/stderr captured, so torch is imported once and process-wide state (threads, cwd) never reaches
pytest. A worker that dies (a signal) or overruns the per-case time limit (a hang) is recorded and
restarted. Run as root, the value `/` becomes `/sys` (a directory even root cannot write in): a command that
wrongly accepted `/` as an output directory must not scatter files over the machine's real root.
Each case runs in a fresh scratch directory (its cwd, its cache, its outputs) outside the fixture tree;
the fixture tree (tiny models of every task, data files) is hashed after every case and restored when a
case changed it. A case passes when: exit status 0 or 2, no traceback, no signal, no hang, exactly one
stderr line `rnnlab: error: ...` on exit 2, the fixture tree unchanged, and for `rnnlab train` the run
directory either complete (exit 0) or not blocking the next run (exit 2: `rundir.holds_run` is False).

`python scripts/fuzz_cli.py` runs the whole grid and prints the counts and the failures.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# ------------------------------------------------------------------------------------------ value grids
HUGE_TEXT = "x" * 100_000
NON_UTF8_ARGUMENT = "\udcff\udcfe"  # how Python hands over argv bytes that are not UTF-8 (surrogateescape)

#: kind -> [(label, value)]; a value may name a fixture ({model_file}, {nonutf8}, ...); None: a bare flag.
GRIDS: dict[str, list[tuple[str, str | None]]] = {
    "int": [("0", "0"), ("-1", "-1"), ("2**64", str(2**64)), ("10**9", str(10**9))],
    "float": [("0", "0"), ("-1", "-1"), ("1e-300", "1e-300"), ("5e-324", "5e-324"), ("1e308", "1e308"),
              ("inf", "inf"), ("-inf", "-inf"), ("nan", "nan")],  # fmt: skip
    "str": [("empty", ""), ("100k chars", HUGE_TEXT), ("non-UTF-8 argument", NON_UTF8_ARGUMENT)],
    "text": [("empty", ""), ("blank", " "), ("100k chars", HUGE_TEXT), ("non-UTF-8 argument", NON_UTF8_ARGUMENT)],
    "path": [("empty", ""), ("/", "{root_dir}"), ("file in the model", "{model_file}"), ("new file in the model", "{model_new}"),
             ("non-UTF-8 file", "{nonutf8}"), ("directory", "{dir}"), ("missing file", "{missing}"),
             ("300-char name", "n" * 300)],  # fmt: skip
    "bool": [("maybe", "maybe"), ("empty", "")],
    "list": [("empty", ""), ("[1,", "[1,")],
    "flag": [("on", None)],
}
# A positional string is often a name or a path (`data info NAME|PATH`, `runs DIR`): it gets both grids.
GRIDS["name"] = GRIDS["path"] + [item for item in GRIDS["str"] if item[1] != ""]

#: Option names (the last part of a dotted config key) that hold a path: they get the path grid.
PATH_NAMES = frozenset({"checkpoint", "ckpt", "input", "data", "out", "output", "output_dir", "cache_dir", "arpa",
                        "fit_file", "lm", "reverse", "config", "corpus", "train", "valid", "test", "pretrained_lm",
                        "init_from", "from_arpa", "directory"})  # fmt: skip
#: Positionals and options that hold text to run a model on.
TEXT_NAMES = frozenset({"inputs", "text"})


def near_misses(choices: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """Values one slip away from a valid choice ('LSTM', 'lst'), and the empty string."""
    first = choices[0]
    values = [first.upper() if first.upper() != first else first + first[-1], first[:-1] or first + "_", ""]
    return [(f"near-miss {value!r}", value) for value in dict.fromkeys(values) if value not in choices]


# ------------------------------------------------------------------------------------------ base table
QUIET = "--trainer.progress false --trainer.plot false --trainer.device cpu"
CAPS = "--trainer.max_steps 1 --trainer.max_epochs 1 --trainer.max_minutes 0.5"  # every key fuzzed keeps the others

#: A VALID invocation of every command ("train TASK" for every task), with the fixtures' placeholders:
#: {lm}, {ngram}, {translate}, ... (a trained model or run directory of that task), {models} (their parent),
#: {text}, {arpa} (small valid files), {scratch} (the case's own empty directory, also its cwd). A fuzzed
#: option replaces its value in the base (or is added); a command may list several bases (one per task).
BASES: dict[str, list[str]] = {
    "train lm": [f"train lm --data.corpus {{models}}/lm/poems.txt --model.embedding_size 8 --model.hidden_size 8 "
                 f"--model.num_layers 1 --batch_size 2 --bptt 8 {CAPS} {QUIET} --output_dir {{scratch}}/run"],
    "train ngram": ["train ngram --corpus {text} --order 2 --smoothing wb --output_dir {scratch}/run"],
    "train translate": [f"train translate --data.dataset files --data.train {{models}}/translate/train.tsv "
                        f"--data.valid {{models}}/translate/valid.tsv --data.test {{models}}/translate/test.tsv "
                        f"--data.max_len 12 --vocab.size 30 --model.embed_dim 8 --model.hidden_size 8 "
                        f"--model.attention dot --batch_size 16 --eval_bleu_sentences 0 --decode.beam_size 2 "
                        f"{CAPS} {QUIET} --output_dir {{scratch}}/run"],
    "train smt": ["train smt --data.dataset files --data.train {models}/smt/train.tsv --data.valid {models}/smt/valid.tsv "
                  "--model.model1_iterations 2 --model.model2_iterations 1 --tune_sentences 2 --decode.beam_size 2 "
                  "--output_dir {scratch}/run"],
    "train tagger": [f"train tagger --data.dataset null --data.train {{models}}/tagger/train.conll "
                     f"--data.valid {{models}}/tagger/train.conll --model.word_dim 8 --model.char_dim 4 "
                     f"--model.char_hidden 4 --model.hidden_size 8 --batch_size 8 {CAPS} {QUIET} "
                     f"--output_dir {{scratch}}/run"],
    "train classifier": [f"train classifier --data.dataset null --data.train {{models}}/classifier/train.tsv "
                         f"--data.valid {{models}}/classifier/train.tsv --model.word_dim 8 --model.hidden_size 8 "
                         f"--batch_size 8 {CAPS} {QUIET} --output_dir {{scratch}}/run"],
    "train cloze": [f"train cloze --data.corpus {{models}}/cloze --model.embedding_dim 8 --model.hidden_size 8 "
                    f"--batch_size 8 {CAPS} {QUIET} --output_dir {{scratch}}/run"],
    "train regression": [f"train regression --data.dataset null --data.train {{models}}/regression/train.csv "
                         f"--data.valid {{models}}/regression/train.csv --data.test {{models}}/regression/train.csv "
                         f"--data.text_column smiles --data.target_column expt --model.embedding_size 8 "
                         f"--model.hidden_size 8 --batch_size 8 {CAPS} {QUIET} --output_dir {{scratch}}/run"],
    "train tree": [f"train tree --data.dataset files --data.train {{models}}/tree/train.tsv --data.max_depth 3 "
                   f"--model.embedding_size 4 --model.hidden_size 4 --batch_size 8 {CAPS} {QUIET} "
                   f"--output_dir {{scratch}}/run"],
    "tree": ["tree {tree} '[MAX 2 9 [MIN 4 7 ] 0 ]' --draw value --out {scratch}/art"],
    "train graph": [f"train graph --data.dataset files --data.train {{models}}/graph/train.csv "
                    f"--data.valid {{models}}/graph/train.csv --model.hidden_size 8 --model.num_steps 1 "
                    f"--batch_size 4 --trainer.metric rmse {CAPS} {QUIET} --output_dir {{scratch}}/run"],
    "train physics": [f"train physics --data.max_train 1 --data.max_valid 1 --model.hidden_size 8 --model.num_steps 1 "
                      f"--batch_size 16 {CAPS} {QUIET} --output_dir {{scratch}}/run"],
    "smiles": ["smiles {graph} CCO c1ccccc1O --batch-size 2"],
    "rollout": ["rollout {physics} --masses 4 --steps 4 --frames 2 --seed 1 --out {scratch}/art"],
    "train caption": [f"train caption --data.dataset files --data.train {{models}}/caption/captions.tsv "
                      f"--data.image_size 8 --model.embed_dim 4 --model.hidden_size 8 --model.encoder.width 2 "
                      f"--model.encoder.feature_size 4 --model.encoder.stages 1 --batch_size 4 {CAPS} {QUIET} "
                      f"--output_dir {{scratch}}/run"],
    "caption": ["caption {caption} {models}/caption/0.png --beam 2 --out {scratch}/art"],
    "train vqa": [f"train vqa --data.dataset files --data.train {{models}}/vqa/questions.jsonl --data.image_size 16 "
                  f"--model.hidden_size 16 --model.question_size 8 --model.encoder.width 4 --model.encoder.feature_size 8 "
                  f"--model.encoder.stages 2 --batch_size 8 {CAPS} {QUIET} --output_dir {{scratch}}/run"],
    "ask": ["ask {vqa} {models}/vqa/0.png --question 'what colour is the square' --top-k 2 --out {scratch}/art"],
    "train handwriting": [f"train handwriting --data.dataset files --data.train {{models}}/handwriting/letters.npz "
                          f"--model.hidden_size 8 --model.mixtures 2 --model.window_mixtures 2 --model.char_embedding 4 "
                          f"--input_noise 0.1 --model.position_input true --model.gated_window true --window_backward_penalty 1 "
                          f"--batch_size 4 {CAPS} "
                          f"{QUIET} --output_dir {{scratch}}/run",
                          f"train handwriting --data.dataset files --data.train {{models}}/handwriting/letters.npz "
                          f"--model.hidden_size 8 --model.mixtures 2 --model.window_mixtures 2 --model.char_embedding 4 "
                          f"--scheduled_sampling 0.5 --affine_jitter 0.1 --model.position_input true --model.window_max_spread 1 "
                          f"--model.window_start -1 "
                          f"--batch_size 4 {CAPS} "
                          f"{QUIET} --output_dir {{scratch}}/run"],
    "write": ["write {handwriting} abc ca --bias 1 --seed 2 --max-points 30 --out {scratch}/art"],
    "train chat": [f"train chat --data.dataset files --data.train {{models}}/chat/train.jsonl --data.valid "
                   f"{{models}}/chat/valid.jsonl --vocab.size 60 --model.embed_dim 8 --model.utterance_hidden 8 "
                   f"--model.context_hidden 8 --model.decoder_hidden 8 --batch_size 8 {CAPS} {QUIET} "
                   f"--output_dir {{scratch}}/run",
                   f"train chat --data.dataset files --data.train {{models}}/chat/train.jsonl --data.valid "
                   f"{{models}}/chat/valid.jsonl --vocab.size 60 --model.embed_dim 8 --model.utterance_hidden 8 "
                   f"--model.context_hidden 8 --model.decoder_hidden 8 --model.ranking_weight 1 --trainer.metric "
                   f"r_at_1 --trainer.mode max --batch_size 8 {CAPS} {QUIET} --output_dir {{scratch}}/run"],
    "chat": ["chat {chat} hello 'do you like dogs' --n-best 2 --beam 2"],
    "eval": ["eval {lm}", "eval {classifier} --data {models}/classifier/train.tsv --out {scratch}/art"],
    "runs": ["runs {models}/lm"],
    "demo": ["demo --steps 1 --minutes 0.05 --threads 1 --output-dir {scratch}/demo"],
    "ngram export": ["ngram export {ngram} {scratch}/out.arpa"],
    "ngram import": ["ngram import {arpa} --output {scratch}/imported"],
    "ngram info": ["ngram info {ngram}"],
    "poem": ["poem 白日依山尽，黄河入海流。欲穷千里目，更上一层楼。", "poem --group 七阳"],
    "data list": ["data list --cache-dir {scratch}/cache"],
    "data fetch": ["data fetch tang --cache-dir {scratch}/cache"],
    "data info": ["data info {text} --cache-dir {scratch}/cache"],
    "inspect diagram": ["inspect diagram --out {scratch}/d.png"],
    "inspect gates": ["inspect gates {lm} 白日依山尽 --max-tokens 10 --out {scratch}/g.png"],
    "inspect bptt": ["inspect bptt --steps 3 --t 2 --out {scratch}/b.png"],
    "inspect cost": ["inspect cost --lengths 4 8 --batch-size 2 --hidden-size 4 --repeats 1 --out {scratch}/c.png"],
    "inspect gradflow": ["inspect gradflow --length 5 --train-steps 2 --explode-steps 2 --hidden-size 4 "
                         "--out {scratch}/f.png"],
    "inspect tree": ["inspect tree {tree} '[MAX 2 9 [MIN 4 7 ] 0 ]' --show norm --out {scratch}/t.svg"],
    "inspect graph": ["inspect graph {graph} --smiles CCO --out {scratch}/g.png",
                      "inspect graph {physics} --seed 1 --out {scratch}/gn.png"],  # a GN step (model.kind gn)
    "inspect unroll": ["inspect unroll --num-layers 2 --bidirectional --text 'a b c' --out {scratch}/u.svg"],
    "inspect seq2seq": ["inspect seq2seq {translate} 'eins zwei' --reference 'one two' --out {scratch}/s.svg"],
    "bench": ["bench --cell rnn --hidden-size 4 --num-layers 1 --seq-len 4 --batch-size 2 --repeats 1"],
    "generate": ["generate {lm} --max-tokens 5 --seed 1", "generate {ngram} --max-tokens 5 --seed 1",
                 "generate {lm} --rhyme auto --max-tokens 12 --seed 1"],
    "score": ["score {lm} 白日依山尽", "score {ngram} 'the cat sat'"],
    "next": ["next {lm} 白日依山", "next {ngram} 'the cat'"],
    "trace": ["trace {lm} 白日依山尽 --out {scratch}/trace"],
    "translate": ["translate {translate} 'eins zwei' --out {scratch}/art", "translate {smt} 'eins zwei' --n-best 2"],
    "tag": ["tag {tagger} 'bob went to lima'"],
    "classify": ["classify {classifier} 'the film was great'"],
    "cloze": ["cloze {cloze} 'the ___ meows'"],
    "predict": ["predict {regression} CCO"],
    "serve": ["serve {lm} {ngram} --check"],  # --check: loads the models and exits; the fuzzer never starts a server
}  # fmt: skip
#: Commands whose every run takes seconds (`demo` trains two models and writes a report): the whole grid
#: runs them, with SLOW_FACTOR times the time limit; the test suite's sample leaves them out.
SLOW_COMMANDS = frozenset({"demo"})
SLOW_FACTOR = 4


# ------------------------------------------------------------------------------------------ enumeration
@dataclass(frozen=True)
class Option:
    """One thing to fuzz: an option (or positional, or config key) of one command, and its kind."""

    command: tuple[str, ...]  # the leaf whose base is used: ('generate',), ('inspect', 'gates'), ('train', 'lm')
    name: str  # '--top-k', a positional's dest ('checkpoint'), a config key as a flag ('--trainer.lr')
    kind: str  # a key of GRIDS, or 'choice'
    choices: tuple[str, ...] = ()
    positional: bool = False
    owner: int | None = None  # an option of a parent parser (`inspect --threads`): goes after this many words

    def grid(self) -> list[tuple[str, str | None]]:
        return near_misses(self.choices) if self.kind == "choice" else GRIDS[self.kind]


@dataclass(frozen=True)
class Case:
    """One complete invocation: a base with one option replaced by one value (placeholders not yet filled)."""

    command: str  # 'generate', 'train lm', 'inspect gates'
    option: str  # '--top-k', 'checkpoint', 'base' (the base invocation itself, which must exit 0)
    value: str  # the value's label
    argv: tuple[str, ...]
    run_dir: str | None = None  # a `train` case: the run directory to check afterwards

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.command, self.option, self.value)


def leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf command of the parser: ('generate',), ('ngram', 'export'), ('inspect', 'gates'), ..."""
    sub = _subparsers(parser)
    if sub is None:
        return [prefix]
    return [leaf for name, child in sub.choices.items() for leaf in leaf_commands(child, (*prefix, name))]


def expected_bases() -> list[str]:
    """The commands BASES must hold: every leaf of the parser but `train`, and `train TASK` for every task."""
    from rnnlab.cli import build_parser
    from rnnlab.tasks.registry import discover_tasks

    leaves = [" ".join(path) for path in leaf_commands(build_parser()) if path != ("train",)]
    return leaves + [f"train {task}" for task in discover_tasks()]


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def _skipped(action: argparse.Action) -> bool:
    """Help, --version, sub-command choosers and `train`'s remainder are not options to fuzz."""
    return isinstance(action, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)) or (
        action.dest in ("show_help", "rest")
    )


def _kind_of_name(name: str, positional: bool) -> str:
    last = name.lstrip("-").replace("-", "_").split(".")[-1]
    if last in TEXT_NAMES:
        return "text"
    if last in PATH_NAMES:
        return "path"
    return "name" if positional else "str"


def action_kind(action: argparse.Action, typed: dict | None = None) -> tuple[str, tuple[str, ...]]:
    """The kind of an argparse action: from the verb's options dataclass field when there is one (`typed`:
    `rnnlab.verbs.OptionField` by dest), else from argparse's action class, `type` and `choices`."""
    item = (typed or {}).get(action.dest)
    positional = not action.option_strings
    if item is not None:
        if item.kind == "bool":
            return "flag", ()
        if item.choices:
            return "choice", tuple(item.choices)
        if item.kind in ("int", "float"):
            return item.kind, ()
        return _kind_of_name(action.dest, positional), ()  # str, and list[str] (one value per flag)
    if action.nargs == 0:  # store_true / store_false / store_const / count
        return "flag", ()
    if action.choices is not None:
        return "choice", tuple(action.choices)  # iterating also works for a lazy container (--cell)
    if action.type in (int, float):
        return action.type.__name__, ()
    return _kind_of_name(action.dest, positional), ()


def config_kind(key: str, type_name: str) -> tuple[str, tuple[str, ...]]:
    """The kind of a config key from `config_fields`' type name: int, float, bool, str, a|b|c, list[...]."""
    base = type_name.removesuffix("|null")
    if base in ("int", "float", "bool"):
        return base, ()
    if base.startswith(("list[", "tuple[")):
        return "list", ()
    if "|" in base:
        return "choice", tuple(base.split("|"))
    return _kind_of_name(key, positional=False), ()


def enumerate_options() -> list[tuple[Option, tuple[tuple[str, str | int | None], ...]]]:
    """Every option of every command, with the leaf's positionals ((dest, nargs), in order)."""
    from rnnlab.cli import build_parser
    from rnnlab.commands.train import _task_parser
    from rnnlab.config import config_fields
    from rnnlab.tasks.registry import all_verbs, discover_tasks, get_task
    from rnnlab.verbs import option_fields

    found: list[tuple[Option, tuple]] = []
    seen_owners: set[tuple[str, ...]] = set()

    def visit(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        sub = _subparsers(parser)
        if path == ("train",):
            for task_name in discover_tasks():
                visit_train(task_name)
            return
        if sub is not None:  # a parent (`inspect`): its own options go with its first leaf's base
            if path and path not in seen_owners:
                seen_owners.add(path)
                first_leaf = leaf_commands(parser, path)[0]
                for action in parser._actions:
                    if not _skipped(action) and action.option_strings:
                        kind, choices = action_kind(action)
                        found.append((Option(first_leaf, action.option_strings[-1], kind, choices, owner=len(path)),
                                      _positionals(leaf_parser(parser, first_leaf[len(path):]))))  # fmt: skip
            for name, child in sub.choices.items():
                visit(child, (*path, name))
            return
        verb_name = parser.get_default("verb_name")
        typed = {item.name: item for item in option_fields(all_verbs()[verb_name].options)} if verb_name else {}
        positionals = _positionals(parser)
        for action in parser._actions:
            if _skipped(action):
                continue
            kind, choices = action_kind(action, typed)
            name = action.option_strings[-1] if action.option_strings else action.dest
            found.append((Option(path, name, kind, choices, positional=not action.option_strings), positionals))

    def visit_train(task_name: str) -> None:
        task = get_task(task_name)
        command = ("train", task_name)
        positionals = (("target", None),)
        found.append((Option(command, "target", "name", positional=True), positionals))
        for action in _task_parser(task)._actions:  # --config, --resume, --overwrite
            if not _skipped(action):
                kind, choices = action_kind(action)
                found.append((Option(command, action.option_strings[-1], kind, choices), positionals))
        for key, type_name, _default in config_fields(task.config_class):
            kind, choices = config_kind(key, type_name)
            found.append((Option(command, f"--{key}", kind, choices), positionals))

    visit(build_parser(), ())
    return found


def leaf_parser(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> argparse.ArgumentParser:
    for name in path:
        parser = _subparsers(parser).choices[name]
    return parser


def _positionals(parser: argparse.ArgumentParser) -> tuple[tuple[str, str | int | None], ...]:
    return tuple((a.dest, a.nargs) for a in parser._actions if not a.option_strings and not _skipped(a))


def _split_positionals(tokens: list[str], positionals: tuple) -> dict[str, list[str]]:
    """The base's leading (non-option) tokens assigned to the leaf's positionals, the way argparse does."""
    assigned, index = {}, 0
    for dest, nargs in positionals:
        take = len(tokens) - index if nargs in ("*", "+", argparse.REMAINDER) else min(1, len(tokens) - index)
        assigned[dest] = tokens[index : index + take]
        index += take
    return assigned


def _without(tokens: list[str], flag: str) -> list[str]:
    """`tokens` without `flag` and its values (`--flag v`, `--flag v1 v2`, `--flag=v`)."""
    kept, index = [], 0
    while index < len(tokens):
        token = tokens[index]
        if token == flag:
            index += 1
            while index < len(tokens) and not tokens[index].startswith("--"):
                index += 1
            continue
        if not token.startswith(flag + "="):
            kept.append(token)
        index += 1
    return kept


def build_argv(base: str, option: Option, positionals: tuple, value: str | None) -> list[str]:
    """The base invocation with `option` set to `value` (a positional replaced; a flag added; `--opt=value`
    so that a value starting with '-' is still the option's value)."""
    tokens = shlex.split(base)
    words = len(option.command)
    head, body = tokens[:words], tokens[words:]
    if option.name == "target" and option.command[0] == "train":
        return ["train", value or "", *body]
    first_option = next((i for i, token in enumerate(body) if token.startswith("--")), len(body))
    assigned = _split_positionals(body[:first_option], positionals)
    options = body[first_option:]
    if option.positional:
        assigned[option.name] = [value or ""]
    else:
        if option.name == "--input":  # inputs as arguments and --input FILE is refused for its own reason
            for dest in TEXT_NAMES:
                assigned[dest] = []
        options = _without(options, option.name)
        setting = option.name if value is None else f"{option.name}={value}"
        if option.owner is not None:
            head = [*head[: option.owner], setting, *head[option.owner :]]
        else:
            options = [*options, setting]
    return [*head, *(token for dest, _ in positionals for token in assigned.get(dest, [])), *options]


def enumerate_cases() -> list[Case]:
    """Every base invocation, then every (command, option, value) of the grid as a Case. Commands without a
    base are skipped here (`test_every_command_has_a_base` names them)."""
    cases: list[Case] = []
    for command, bases in BASES.items():
        for base in bases:
            run_dir = "{scratch}/run" if command.startswith("train ") else None
            cases.append(Case(command, "base", base.split()[len(command.split())] if len(bases) > 1 else "",
                              tuple(shlex.split(base)), run_dir))  # fmt: skip
    for option, positionals in enumerate_options():
        command = " ".join(option.command)
        for index, base in enumerate(BASES.get(command, [])):
            for label, value in option.grid():
                if option.kind == "flag" and option.name in shlex.split(base):
                    continue
                run_dir = None
                if option.command[0] == "train":
                    run_dir = (value or "") if option.name == "--output_dir" else "{scratch}/run"
                which = f" [base {index + 1}]" if len(BASES[command]) > 1 else ""
                cases.append(Case(command, option.name, label + which,
                                  tuple(build_argv(base, option, positionals, value)), run_dir))  # fmt: skip
    return cases


def sample_cases(cases: list[Case], size: int, seed: int = 0) -> list[Case]:
    """Every base, one case of every command, then random cases up to `size` in all (fixed seed: the same
    sample every run, in the grid's order). SLOW_COMMANDS are left out."""
    rng = random.Random(seed)
    cases = [case for case in cases if case.command not in SLOW_COMMANDS]
    chosen = {case.key for case in cases if case.option == "base"}
    by_command: dict[str, list[Case]] = {}
    for case in cases:
        if case.option != "base":
            by_command.setdefault(case.command, []).append(case)
    for command in sorted(by_command):
        chosen.add(rng.choice(by_command[command]).key)
    rest = [case.key for case in cases if case.key not in chosen]
    rng.shuffle(rest)
    chosen.update(rest[: max(0, size - len(chosen))])
    return [case for case in cases if case.key in chosen]


# ------------------------------------------------------------------------------------------ fixtures
NON_UTF8_BYTES = b"caf\xe9 \xff\xfe latin-1 and worse\n"
ARPA = """\\data\\
ngram 1=4
ngram 2=1

\\1-grams:
-0.8\t</s>
-99\t<s>\t-0.5
-0.9\tthe\t-0.25
-1.1\tcat

\\2-grams:
-0.2\tthe cat

\\end\\
"""


def build_fixtures(root: Path) -> dict[str, str]:
    """A tiny model of every task (tests/verb_models.py, with its data files) and the files the grid uses."""
    from contextlib import redirect_stdout

    from tests.verb_models import BUILDERS

    fixtures: dict[str, str] = {"models": str(root / "models")}
    with redirect_stdout(io.StringIO()):
        for task, build in BUILDERS.items():
            (root / "models" / task).mkdir(parents=True)
            fixtures[task] = str(build(root / "models" / task))
    files = root / "files"
    files.mkdir(parents=True)
    (files / "nonutf8.txt").write_bytes(NON_UTF8_BYTES)
    (files / "text.txt").write_text("the cat sat on the mat\nthe dog sat\na cat ran\n" * 3, encoding="utf-8")
    (files / "ok.arpa").write_text(ARPA, encoding="utf-8")
    fixtures.update(nonutf8=str(files / "nonutf8.txt"), text=str(files / "text.txt"), arpa=str(files / "ok.arpa"))
    return fixtures


def case_paths(scratch: Path) -> dict[str, str]:
    """{dir} (an empty directory) and {missing} (a path that does not exist) live in the case's scratch
    directory: an output option given one of them may rightly write there (`--out DIR`, `--output FILE`),
    while the fixture tree (models, input files) must never change."""
    return {"scratch": str(scratch), "dir": str(scratch / "a-directory"), "missing": str(scratch / "missing.txt")}


def model_paths(fixtures: dict[str, str], model: str) -> dict[str, str]:
    """{model_file}: an existing file of the model (its config.json); {model_new}: a new name inside it."""
    directory = Path(fixtures[model])
    existing = next((p for p in (directory / "config.json", directory / "best" / "config.json") if p.is_file()),
                    directory / "config.json")  # fmt: skip
    return {"model_file": str(existing), "model_new": str(directory / "new.txt")}


def base_model(case: Case, fixtures: dict[str, str]) -> str:
    """The model a case's base uses (the first model placeholder in it); `lm` when it uses none."""
    for token in case.argv:
        for name in fixtures:
            if f"{{{name}}}" in token and name not in ("models", "scratch") and Path(fixtures[name]).is_dir():
                return name
    return "lm"


def fill(token: str, mapping: dict[str, str]) -> str:
    """Placeholders replaced (str.replace, not str.format: values hold braces and 100k characters)."""
    if "{" not in token:
        return token
    for name, value in mapping.items():
        token = token.replace(f"{{{name}}}", value)
    return token


def tree_hash(root: Path) -> dict[str, str]:
    """Relative path -> sha256 (or 'dir') of everything under root."""
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            for path in sorted(root.rglob("*"))}  # fmt: skip


# ------------------------------------------------------------------------------------------ the worker
class _Capture(io.TextIOBase):
    """A text stream that keeps the first `keep` characters and counts the lines. Encoding errors behave
    as on a real UTF-8 terminal: stdout is strict (a lone surrogate raises), stderr backslash-escapes."""

    def __init__(self, errors: str, keep: int = 20_000) -> None:
        super().__init__()
        self._errors, self._keep = errors, keep
        self.kept: list[str] = []
        self.size = self.line_ends = 0
        self.last = ""  # the last character written: a final line without its newline still counts

    @property
    def encoding(self) -> str:
        return "utf-8"

    @property
    def errors(self) -> str:
        return self._errors

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        text.encode("utf-8", self._errors)
        if self.size < self._keep:
            self.kept.append(text[: self._keep - self.size])
        self.size += len(text)
        self.line_ends += text.count("\n")
        self.last = text[-1:] or self.last
        return len(text)

    @property
    def lines(self) -> int:
        return self.line_ends + (1 if self.last not in ("", "\n") else 0)

    @property
    def text(self) -> str:
        return "".join(self.kept)


def _reset_warnings() -> None:
    """Each case shows its warnings as a fresh process would (the once-per-location registries cleared)."""
    import warnings

    mutated = getattr(warnings, "_filters_mutated", None) or getattr(warnings, "_filters_mutated_lock_held", None)
    if mutated is not None:
        mutated()


def _run_dir_state(path: Path, code: int) -> str:
    """'absent'; after a failure 'clean' or 'blocks' (it would refuse the next run); after success
    'complete' or 'incomplete: why'."""
    from rnnlab.errors import UserError
    from rnnlab.train.checkpoint import verify_checkpoint
    from rnnlab.train.rundir import RUN_FILE, holds_run

    try:
        if not path.exists():
            return "absent"
    except OSError:  # a name too long for the file system
        return "absent"
    if code != 0:
        return "blocks" if holds_run(path) else "clean"
    models = [path / name for name in ("best", "last") if (path / name).is_dir()]
    if (path / "config.json").is_file():  # an n-gram model is the run directory itself
        models.append(path)
    if not (path / RUN_FILE).is_file():
        return f"incomplete: no {RUN_FILE}"
    if not models:
        return "incomplete: no model (best/, last/ or config.json)"
    for model in models:
        try:
            verify_checkpoint(model, required=("config.json",))
        except UserError as error:
            return f"incomplete: {error}"
    return "complete"


def run_one(request: dict, main) -> dict:
    """One case in this process: `main(argv)` in the case's scratch directory with its streams captured."""
    import traceback

    import torch

    scratch = Path(request["scratch"])
    (scratch / "a-directory").mkdir(parents=True, exist_ok=True)
    home = os.getcwd()
    saved = sys.stdin, sys.stdout, sys.stderr
    out, err = _Capture("strict"), _Capture("backslashreplace")
    os.chdir(scratch)
    os.environ["RNNLAB_CACHE"] = str(scratch / "cache")
    _reset_warnings()
    error, started = None, time.perf_counter()
    sys.stdin, sys.stdout, sys.stderr = io.StringIO(""), out, err
    try:
        code = main(list(request["argv"]))
    except SystemExit as exit_:  # argparse's errors; a sys.exit("message") prints the message
        code = exit_.code if isinstance(exit_.code, int) or exit_.code is None else 1
        if not isinstance(exit_.code, (int, type(None))):
            err.write(f"{exit_.code}\n")
        code = code or 0
    except BaseException:  # what would reach the interpreter: a traceback
        error, code = traceback.format_exc(), 1
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
        os.chdir(home)
        torch.set_num_threads(1)
    seconds = time.perf_counter() - started
    run_dir = request.get("run_dir")
    return {"code": code, "stderr": err.text[:8000], "stderr_lines": err.lines, "seconds": round(seconds, 3),
            "traceback": error[-4000:] if error else None,
            "run_dir": _run_dir_state(Path(run_dir), code) if run_dir else None}  # fmt: skip


def worker_main() -> None:
    """The worker loop: one JSON request per line on stdin, one JSON reply per line on the original stdout."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))  # a huge allocation fails, no OOM kill
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # C code printing to fd 1 cannot corrupt the replies
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = _serve(request)
        except Exception:  # the fuzzer's own mistake (a case's exceptions are caught in run_one)
            import traceback

            reply = {"fuzzer_error": traceback.format_exc()}
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


def _serve(request: dict) -> dict:
    """One request of the worker loop."""
    op = request["op"]
    if op == "run":
        import torch  # imported once per worker, at its first case (the self-test ops do without)

        from rnnlab.cli import main

        torch.set_num_threads(1)
        return run_one(request, main)
    if op == "build":
        return {"fixtures": build_fixtures(Path(request["root"]))}
    if op == "copy":  # snapshot or restore the fixture tree
        shutil.rmtree(request["to"], ignore_errors=True)
        shutil.copytree(request["from"], request["to"], symlinks=True)
        return {}
    if op == "signal":  # self-test: a worker that dies of a signal is detected
        os.kill(os.getpid(), request["signal"])
    if op == "sleep":  # self-test: a worker that overruns the time limit is detected
        time.sleep(request["seconds"])
        return {}
    raise ValueError(f"unknown op {op!r}")


MEMORY_LIMIT = 4 << 30  # address space of the worker
FILE_LIMIT = 1 << 30  # largest file the worker may write


class WorkerDied(Exception):
    pass


class WorkerHung(Exception):
    pass


class Worker:
    """The worker subprocess: started, asked, killed (its whole process group) and restarted."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.proc: subprocess.Popen | None = None
        self.buffer = b""
        self.starts = 0

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
               "HOME": str(self.home), "MPLCONFIGDIR": str(self.home / "mpl"), "PYTHONDONTWRITEBYTECODE": "1",
               "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg", "PYTHONFAULTHANDLER": "1"}  # fmt: skip
        self.log = self.home / f"worker-{self.starts}.log"  # its stderr: faulthandler's dump on a crash
        log = open(self.log, "wb")  # noqa: SIM115 (the child holds it)
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.cli_fuzz_generated", "--worker"], cwd=self.home,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=env,
                                     start_new_session=True)  # fmt: skip
        log.close()
        self.buffer = b""
        self.starts += 1

    def call(self, request: dict, timeout: float) -> dict:
        if self.proc is None:
            self.start()
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise WorkerDied(self._reap()) from None
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise WorkerHung(f"no answer in {timeout:.0f} s")
            if select.select([fd], [], [], left)[0]:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise WorkerDied(self._reap())
                self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        reply = json.loads(line)
        if "fuzzer_error" in reply:  # a bug of this module, not of rnnlab: stop the run, do not count it
            raise RuntimeError(f"the fuzzer's worker failed on {request}:\n{reply['fuzzer_error']}")
        return reply

    def _reap(self) -> str:
        code = self.proc.wait()
        self.proc = None
        how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"worker exited with status {code}"
        tail = self.log.read_text(errors="replace").strip().splitlines()[-3:]
        return "\n".join([how, *tail])

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the worker's own session: it and anything it started
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None


# ------------------------------------------------------------------------------------------ judging and running
TRACEBACK, SIGNAL, HANG, STDERR = "traceback", "signal or crash", "hang", "not one 'rnnlab: error:' line"
FILE_CHANGED, BLOCKED, INCOMPLETE, EXIT_CODE, BASE = ("file changed", "blocked run dir", "incomplete run dir",
                                                      "exit code not 0/2", "base does not exit 0")  # fmt: skip


@dataclass
class Result:
    """What one case did; `failures` lists its classes (empty: passed)."""

    case: Case
    argv: list[str]  # as run, with the temporary directories shown as FIXTURES/ and SCRATCH/
    code: int | None = None
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    stderr: str = ""
    detail: str = ""

    def describe(self) -> str:
        head = "\n      ".join(line[:300] for line in (self.detail or self.stderr).strip().splitlines()[:3])
        return (f"[{', '.join(self.failures)}] {self.case.command} {self.case.option} = {self.case.value} "
                f"(exit {self.code}, {self.seconds:.1f} s)\n    rnnlab {show_argv(self.argv)}\n      {head}")  # fmt: skip


def show_argv(argv: list[str]) -> str:
    """The argv as a shell line, a huge value shortened and a lone surrogate escaped."""
    def short(token: str) -> str:
        if len(token) > 120:
            token = f"{token[:40]}...({len(token)} chars)"
        return ascii(token)[1:-1] if any("\udc80" <= ch <= "\udcff" for ch in token) else token

    return shlex.join(short(token) for token in argv)


def judge(case: Case, reply: dict) -> tuple[list[str], str]:
    failures, detail = [], ""
    code, stderr = reply["code"], reply["stderr"]
    if reply["traceback"] or "Traceback (most recent call last)" in stderr:
        failures.append(TRACEBACK)
        lines = (reply["traceback"] or stderr).strip().splitlines()
        frames = [i for i, line in enumerate(lines) if line.lstrip().startswith('File "')]
        error = " ".join(line.strip() for line in lines[frames[-1] + 1 if frames else 0 :] if not line.startswith("    "))
        where = [lines[i].strip() for i in frames if __file__ not in lines[i]]  # not the fuzzer's own capture
        detail = error[:300] + (f"\n{where[-1]}" if where else "")  # the error, and where it was raised
    if code not in (0, 2):
        failures.append(EXIT_CODE)
    # A divergence (lr 1e308) is found only by training: its one error line comes after the run's banner
    # and progress lines, and the run directory must still not block (checked below).
    diverged = stderr.rstrip().splitlines()[-1:] and "diverged" in stderr.rstrip().splitlines()[-1]
    if code == 2 and not diverged and (reply["stderr_lines"] != 1 or not stderr.startswith("rnnlab: error: ")):
        failures.append(STDERR)
    if case.option == "base" and code != 0:
        failures.append(BASE)
    state = reply.get("run_dir") or ""
    if state == "blocks":
        failures.append(BLOCKED)
    elif state.startswith("incomplete"):
        failures.append(INCOMPLETE)
        detail = detail or state
    return failures, detail


def _tree_diff(before: dict[str, str], after: dict[str, str]) -> str:
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    changed = sorted(p for p in set(before) & set(after) if before[p] != after[p])
    parts = [f"{what}: {', '.join(paths[:4])}" for what, paths in (("added", added), ("removed", removed),
                                                                    ("changed", changed)) if paths]  # fmt: skip
    return "fixture tree " + "; ".join(parts)


def run_cases(cases: list[Case], *, timeout: float = 30.0, progress=None) -> list[Result]:
    """Run the cases in a worker subprocess; one Result per case."""
    work = Path(tempfile.mkdtemp(prefix="rnnlab-fuzz-"))
    fixture_root, pristine = work / "fixtures", work / "pristine"
    worker = Worker(work / "home")
    results: list[Result] = []
    try:
        fixtures = worker.call({"op": "build", "root": str(fixture_root)}, timeout=600)["fixtures"]
        fixtures["root_dir"] = "/sys" if os.geteuid() == 0 else "/"  # root may write in /, not in /sys
        worker.call({"op": "copy", "from": str(fixture_root), "to": str(pristine)}, timeout=120)
        clean = tree_hash(fixture_root)
        for number, case in enumerate(cases):
            scratch = work / "scratch" / str(number)
            mapping = {**fixtures, **model_paths(fixtures, base_model(case, fixtures)), **case_paths(scratch)}
            argv = [fill(token, mapping) for token in case.argv]
            # shown with the temporary directories as FIXTURES/ and SCRATCH/ (they are gone after the run)
            shown = [token.replace(str(scratch), "SCRATCH").replace(str(fixture_root), "FIXTURES") for token in argv]
            result = Result(case, shown)
            run_dir = None
            if case.run_dir is not None:
                path = Path(fill(case.run_dir, mapping))
                path = path if path.is_absolute() else scratch / path
                run_dir = str(path) if _inside(path, scratch) else None
            try:
                limit = timeout * (SLOW_FACTOR if case.command in SLOW_COMMANDS else 1)
                reply = worker.call({"op": "run", "argv": argv, "scratch": str(scratch), "run_dir": run_dir}, limit)
            except WorkerHung as hung:
                result.failures, result.detail, result.seconds = [HANG], str(hung), limit
            except WorkerDied as died:
                result.failures, result.detail = [SIGNAL], str(died)
            else:
                result.code, result.seconds, result.stderr = reply["code"], reply["seconds"], reply["stderr"]
                result.failures, result.detail = judge(case, reply)
            after = tree_hash(fixture_root)
            if after != clean:
                result.failures.append(FILE_CHANGED)
                result.detail = _tree_diff(clean, after) + (f"; {result.detail}" if result.detail else "")
                worker.call({"op": "copy", "from": str(pristine), "to": str(fixture_root)}, timeout=120)
            shutil.rmtree(scratch, ignore_errors=True)
            results.append(result)
            if progress is not None:
                progress(number, result)
    finally:
        worker.stop()
        shutil.rmtree(work, ignore_errors=True)
    return results


def _inside(path: Path, directory: Path) -> bool:
    try:
        return os.path.abspath(path) == str(directory) or Path(os.path.abspath(path)).is_relative_to(directory)
    except (ValueError, OSError):
        return False


def summarize(results: list[Result]) -> str:
    """Counts (commands x options x values, passed, failures by class) and every failing case."""
    fuzzed = [r for r in results if r.case.option != "base"]
    commands = {r.case.command for r in results}
    options = {(r.case.command, r.case.option) for r in fuzzed}
    failing = [r for r in results if r.failures]
    by_class = Counter(kind for r in failing for kind in r.failures)
    seconds = sum(r.seconds for r in results)
    lines = [f"{len(commands)} commands, {len(options)} options, {len(results)} cases "
             f"({len(results) - len(fuzzed)} bases + {len(fuzzed)} values tried) in {seconds:.0f} s of cases",
             f"passed {len(results) - len(failing)}, failed {len(failing)}"]  # fmt: skip
    lines += [f"  {count:5d}  {kind}" for kind, count in by_class.most_common()]
    if failing:
        lines.append("failing cases:")
        lines += [f"  {r.describe()}" for r in failing]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        worker_main()
    else:
        sys.exit("usage: python -m tests.cli_fuzz_generated --worker   (the full grid: python scripts/fuzz_cli.py)")
