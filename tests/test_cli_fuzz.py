"""The CLI fuzz table: every command, fed a user's mistakes, answers with one line and exit status 2.

Each row is (argv, a fragment of the expected message). For every row the test asserts: exit status 2,
exactly one line on stderr (starting `rnnlab: error:`), no `Traceback`, and no file added, removed or
changed anywhere under the fixtures' directory (the model and run directories the row points at).

New commands join by adding rows: `test_every_command_has_a_row` walks the argparse parser and fails for a
command (or sub-command) without one. The fixtures are tiny and built once per session: a character LM
trained for 2 steps, a word n-gram model, and "model directories" of the other tasks that hold only a
config.json (enough for `open_model` to refuse a verb the task does not offer, before loading anything).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from rnnlab.cli import build_parser, main
from rnnlab.data.tang import tang_splits
from rnnlab.lm.ngram import NGramModel
from rnnlab.tasks.registry import discover_tasks

ARPA = """\\data\\
ngram 1=4
ngram 2=1

\\1-grams:
-0.8\t</s>
-99\t<s>\t-0.5
-0.9\tthe\t{backoff}
-1.1\tcat

\\2-grams:
-0.2\tthe cat

\\end\\
"""


@pytest.fixture(scope="session")
def fx(tmp_path_factory) -> dict[str, str]:
    """Paths the rows refer to as {name}; everything lives under {root}, which each row hashes."""
    root = tmp_path_factory.mktemp("fuzz")
    poems = root / "poems.txt"
    poems.write_text("\n".join(tang_splits()["train"].splitlines()[:40]) + "\n", encoding="utf-8")
    lm = root / "lm"
    argv = ["train", "lm", "--data.corpus", str(poems), "--model.embedding_size", "8", "--model.hidden_size", "8",
            "--model.num_layers", "1", "--batch_size", "2", "--bptt", "8", "--trainer.max_steps", "2",
            "--trainer.max_epochs", "null", "--trainer.eval_every", "2", "--trainer.progress", "false",
            "--trainer.plot", "false", "--output_dir", str(lm)]  # fmt: skip
    assert main(argv) == 0
    ngram = root / "ngram"
    NGramModel.train(["the cat sat on the mat", "the dog sat"] * 3, order=2, smoothing="wb").save(ngram)
    tree = root / "tree"  # a binary N-ary Tree-LSTM that takes trees up to 3 levels deep
    from rnnlab.data.listops import generate_examples

    (root / "trees.tsv").write_text("".join(f"{v}\t{t}\n" for v, t in generate_examples(0, 30, 3, 2)))
    argv = ["train", "tree", "--data.dataset", "files", "--data.train", str(root / "trees.tsv"), "--data.max_depth",
            "3", "--model.encoder", "nary_lstm", "--model.max_children", "2", "--model.embedding_size", "4",
            "--model.hidden_size", "4", "--trainer.max_steps", "1", "--trainer.max_epochs", "null",
            "--trainer.progress", "false", "--trainer.plot", "false", "--output_dir", str(tree)]  # fmt: skip
    assert main(argv) == 0
    (root / "bad-trees.tsv").write_text("3\t[MAX 1 3 ]\n4\t[MIN 4 [MAX 2 5 ]\n")
    (root / "misvalued-trees.tsv").write_text("3\t[MAX 1 3 ]\n5\t[MIN 4 [MAX 2 5 ] ]\n")  # line 2's value is 4
    (root / "bad-smiles.csv").write_text("smiles,target\nC((,1\nxyz,2\n")  # no parseable molecule
    caption = root / "caption"  # a captioner of 8x8 images, and images it must refuse
    from tests.tasks.test_caption import png_with_size, write_shapes

    shapes = write_shapes(root / "shapes", 6)
    argv = ["train", "caption", "--data.dataset", "files", "--data.train", str(shapes), "--data.image_size", "8",
            "--model.embed_dim", "4", "--model.hidden_size", "4", "--model.encoder.width", "2",
            "--model.encoder.feature_size", "4", "--model.encoder.stages", "1", "--trainer.max_steps", "1",
            "--trainer.max_epochs", "null", "--trainer.progress", "false", "--trainer.plot", "false",
            "--output_dir", str(caption)]  # fmt: skip
    assert main(argv) == 0
    (root / "shapes" / "truncated.png").write_bytes((root / "shapes" / "0.png").read_bytes()[:60])
    (root / "shapes" / "bomb.png").write_bytes(png_with_size(20000, 20000))
    from PIL import Image

    Image.new("RGB", (1, 1)).save(root / "shapes" / "dot.png")
    (root / "shapes" / "bad.tsv").write_text("0.png\ta red bar\nmissing.png\ta cat\n", encoding="utf-8")
    vqa = root / "vqa"  # a VQA model of 16x16 images (tests/tasks/test_vqa.py's set)
    from tests.tasks.test_vqa import TINY as VQA_TINY
    from tests.tasks.test_vqa import write_questions

    vqa_questions = write_questions(root / "vqa-set", 4)
    argv = ["train", "vqa", "--data.dataset", "files", "--data.train", str(vqa_questions), *VQA_TINY,
            "--trainer.max_steps", "1", "--trainer.max_epochs", "null", "--trainer.progress", "false",
            "--trainer.plot", "false", "--output_dir", str(vqa)]  # fmt: skip
    assert main(argv) == 0
    (root / "vqa-set" / "bad.jsonl").write_text('{"image": "0.png", "question": "what?", "answer": "red"}\n{oops\n')

    chat = root / "chat"  # a tiny chat model on tests/tasks/test_chat.py's conversations
    from tests.tasks.test_chat import TINY as CHAT_TINY
    from tests.tasks.test_chat import write_fixture as chat_fixture

    (root / "chat-set").mkdir()
    chat_set = chat_fixture(root / "chat-set")
    argv = ["train", "chat", "--data.dataset", "files", "--data.train", str(chat_set["train"]), "--data.valid",
            str(chat_set["valid"]), *CHAT_TINY, "--trainer.max_steps", "1", "--trainer.max_epochs", "null",
            "--trainer.progress", "false", "--trainer.plot", "false", "--output_dir", str(chat)]  # fmt: skip
    assert main(argv) == 0
    (root / "chat-set" / "bad.jsonl").write_text('{"turns": ["hi", "hello"]}\n{"turns": [oops\n', encoding="utf-8")

    handwriting = root / "handwriting"  # a conditional handwriting model of the letters a, b, c
    from tests.tasks.test_handwriting import TINY as HANDWRITING_TINY
    from tests.tasks.test_handwriting import letters_npz

    strokes = root / "strokes"
    strokes.mkdir()
    argv = ["train", "handwriting", "--data.dataset", "files", "--data.train", str(letters_npz(strokes / "ok.npz")),
            *HANDWRITING_TINY, "--trainer.max_steps", "1", "--trainer.max_epochs", "null", "--trainer.progress",
            "false", "--trainer.plot", "false", "--output_dir", str(handwriting)]  # fmt: skip
    assert main(argv) == 0
    import numpy as np

    np.savez(strokes / "nan.npz", points=np.array([[0, 0, 0], [np.nan, 1, 1]], dtype=np.float32), lengths=np.array([2]),
             texts=np.array(["ab"]))  # fmt: skip
    np.savez(strokes / "far.npz", points=np.array([[0, 0, 0], [1e12, 1, 1]], dtype=np.float32), lengths=np.array([2]),
             texts=np.array(["ab"]))  # fmt: skip
    (strokes / "svgs").mkdir()
    (strokes / "svgs" / "blank.svg").write_text("<svg><rect width='2' height='2'/></svg>")

    from tests.verb_models import build_graph, build_translate

    (root / "translate").mkdir()
    translate = build_translate(root / "translate")  # a tiny attention translator (inspect seq2seq)
    (root / "graph").mkdir()
    graph = build_graph(root / "graph")  # a tiny molecule model (inspect graph)

    broken_config = root / "broken-config"  # a neural model whose config.json is not JSON
    shutil.copytree(lm / "best", broken_config)
    (broken_config / "config.json").write_text("{not json", encoding="utf-8")
    truncated = root / "truncated"  # a neural model whose weights were cut short
    shutil.copytree(lm / "best", truncated)
    weights = (truncated / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    empty_npz = root / "empty-npz"  # an n-gram model whose arrays are an empty file
    shutil.copytree(ngram, empty_npz)
    (empty_npz / "model.npz").write_bytes(b"")
    typed = root / "wrong-types"  # an n-gram model with `"order": "2"`, the manifest rewritten to match
    shutil.copytree(ngram, typed)
    config = json.loads((typed / "config.json").read_text())
    (typed / "config.json").write_text(json.dumps({**config, "order": "2"}))
    from rnnlab.train.checkpoint import write_manifest

    write_manifest(typed)
    for task in discover_tasks():  # config.json only: enough for `open_model` to refuse the wrong verb
        (root / f"only-{task}").mkdir()
        (root / f"only-{task}" / "config.json").write_text(json.dumps({"task": task}))
    (root / "unknown-task").mkdir()
    (root / "unknown-task" / "config.json").write_text(json.dumps({"task": "astrology"}))

    mt = root / "mt"  # parallel corpora with one thing wrong each (translate and smt read them the same way)
    mt.mkdir()
    (mt / "three.de").write_text("Ein Hund.\nZwei Katzen.\nDrei Mäuse.\n", encoding="utf-8")
    (mt / "two.en").write_text("A dog.\nTwo cats.\n", encoding="utf-8")
    (mt / "three.en").write_text("A dog.\nTwo cats.\nThree mice.\n", encoding="utf-8")  # fine: for init_from
    (mt / "gap.en").write_text("A dog.\n\nThree mice.\n", encoding="utf-8")
    (mt / "empty.en").write_text("", encoding="utf-8")
    (mt / "latin1.en").write_bytes("A dog.\nTwo cats.\nThree mice à la carte.\n".encode("latin-1"))
    (root / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (root / "empty.txt").write_text("")
    (root / "plain.txt").write_text("abcabcabc\n" * 40)  # text without any of the Chinese line marks
    (root / "notadir").write_text("a file where a directory is expected\n")
    (root / "inf.arpa").write_text(ARPA.format(backoff="inf"))
    (root / "nan.arpa").write_text(ARPA.format(backoff="nan"))
    (root / "ok.arpa").write_text(ARPA.format(backoff="-0.25"))
    (root / "bad.yaml").write_text("task: lm\ntrainer: [unclosed\n")
    return {"root": str(root), "lm": str(lm), "ngram": str(ngram), "poems": str(poems), "tree": str(tree),
            "bad_trees": str(root / "bad-trees.tsv"), "misvalued_trees": str(root / "misvalued-trees.tsv"),
            "bad_smiles": str(root / "bad-smiles.csv"),
            "caption": str(caption), "shapes": str(root / "shapes"),
            "vqa": str(vqa), "vqa_set": str(root / "vqa-set"),
            "chat": str(chat), "chat_set": str(root / "chat-set"),
            "handwriting": str(handwriting), "strokes": str(strokes),
            "translate": str(translate), "graph": str(graph), "mt": str(mt),
            "broken": str(broken_config), "truncated": str(truncated), "empty_npz": str(empty_npz),
            "typed": str(typed), "unknown_task": str(root / "unknown-task"), "missing": str(root / "no-such-dir"),
            "binary": str(root / "binary.bin"), "empty": str(root / "empty.txt"), "plain": str(root / "plain.txt"),
            "noplace": str(root / "notadir" / "out"), "inf_arpa": str(root / "inf.arpa"),
            "nan_arpa": str(root / "nan.arpa"), "ok_arpa": str(root / "ok.arpa"), "bad_yaml": str(root / "bad.yaml"),
            **{f"only_{task}": str(root / f"only-{task}") for task in discover_tasks()}}  # fmt: skip


# (argv with {fixture} placeholders, a fragment of the one-line message)
ROWS: list[tuple[str, str]] = [
    # --- train (the run-directory guard, lock, divergence and SIGINT rows belong to PART_A_ROWS below)
    ("train astrology", "unknown task 'astrology'"),
    ("train lm --model.hiden_size 3", "hiden_size"),
    ("train lm --model.line_positions -1", "model.line_positions: expected an integer from 0 to 1,000"),
    ("train lm --model.num_layers 1000000000", "model.num_layers: expected an integer from 1 to 256"),
    ("train tagger --model.char_dim 4 --model.char_hidden 0", "model.char_hidden: expected >= 1 when char_dim > 0"),
    ("train tagger --model.rnn lnlstm --model.execution fused", "model.execution: cell 'lnlstm' has no fused kernel"),
    ("train regression --model.execution jit", "model.execution: expected one of 'auto', 'fused', 'explicit', 'compiled'"),
    ("train translate --vocab.character_coverage 0.5", "vocab.character_coverage: expected a value in [0.98, 1]"),
    ("train translate --trainer.metric accuracy", "trainer.metric: expected loss / ppl / bleu"),
    ("train lm --data.corpus {poems} --output_dir {lm}/inner", "lies inside the run directory"),
    ("train lm --data.corpus {poems} --output_dir {missing} --nproc 4096", "--nproc 4096: this machine has"),
    ("train lm --data.corpus {poems} --output_dir {missing} --nproc 0", "--nproc must be an integer >= 1, got 0"),
    ("train ngram {poems} --nproc 1", "trains in one pass, not in parallel processes"),
    ("demo --steps 1 --output-dir {lm}/inner", "lies inside the run directory"),
    ("train lm --data.corpus {poems} --data.min_freq 16000000 --output_dir {missing}", "out of the vocabulary"),
    ("train lm --data.corpus {plain} --model.line_positions 8 --output_dir {missing}", "model.line_marks: none of"),
    ("train lm --data.corpus {poems} --model.rhyme_memory true --output_dir {missing}",
     "model.rhyme_memory: expected line_positions > 0"),
    ("train {bad_yaml}", "bad.yaml"),
    ("train {missing}.yaml", "no-such-dir.yaml"),
    ("train ngram {poems} --order 0", "order"),
    ("train ngram {poems} --output-dir {noplace}", "cannot write output directory"),
    ("train ngram {poems} --arpa {noplace}/x.arpa", "cannot write ARPA file"),
    ("train ngram {poems} --arpa {poems}", "it is an input of this command"),  # output files are guarded
    ("train ngram {poems} --arpa {ok_arpa}", "the file already exists; delete it first"),
    ("train ngram {poems} --arpa {lm}/x.arpa", "inside the run directory"),
    ("train lm --data.corpus {binary} --output_dir {noplace}", "cannot write output directory"),
    # --- eval
    ("eval {lm} --split foo", "--split: expected one of train, valid, test, got 'foo'"),
    ("eval {ngram} --split dev2", "--split: expected one of train, valid, test"),
    ("eval {missing}", "expected a model directory"),
    ("eval {broken}", "not valid JSON"),
    ("eval {unknown_task}", "unknown task 'astrology'"),
    ("eval {truncated}", "model.safetensors"),
    ("eval {empty_npz}", "model.npz"),
    ("eval {typed}", "field 'order' must be an integer"),
    ("eval {lm} --data {binary}", "binary.bin"),
    ("eval {lm} --data {missing}.txt", "no such file"),
    ("eval {lm} --data {empty}", "empty.txt"),
    ("eval {ngram} --data {missing}.txt", "no such file"),
    ("eval {lm} --out {noplace}", "cannot write artifact directory"),
    ("eval {ngram} --out {ngram}", "it is an input of this command"),
    ("eval {ngram} --out {lm}/plots", "inside the run directory"),
    # --- generate
    ("generate {lm} --temperature inf", "--temperature must be a finite number >= 0 (0 = greedy), got inf"),
    ("generate {lm} --temperature nan", "--temperature must be a finite number >= 0"),
    ("generate {ngram} --temperature -1", "--temperature must be a finite number >= 0"),
    ("generate {lm} --top-k 0", "--top-k must be an integer >= 1, got 0"),
    ("generate {ngram} --top-k 0", "--top-k must be an integer >= 1, got 0"),
    ("generate {lm} --top-p 0", "--top-p must be in (0, 1], got 0.0"),
    ("generate {lm} --top-p 1.5", "--top-p must be in (0, 1]"),
    ("generate {lm} --beam 0", "--beam must be an integer >= 1, got 0"),
    ("generate {lm} --num-samples 0", "--num-samples must be an integer >= 1"),
    ("generate {lm} --max-tokens 0", "--max-tokens must be an integer >= 1"),
    ("generate {lm} --seed -1", "--seed must be an integer >= 0"),
    ("generate {lm} --num-samples x", "invalid int value: 'x'"),
    ("generate", "the following arguments are required: checkpoint"),
    ("next {lm} 白日依山 --top-k 0", "--top-k must be an integer >= 1, got 0"),
    ("next {lm}", "expected contexts on the command line or --input FILE"),
    ("next {only_translate} the", "`rnnlab next` needs a model of task"),
    ("trace {ngram} 'the cat'", "`rnnlab trace` needs a model of task 'lm'"),
    ("trace {lm} 白日 --max-units 0", "--max-units must be an integer >= 1, got 0"),
    ("trace {lm} 白日 --max-tokens 0", "--max-tokens must be an integer >= 1, got 0"),
    ("trace {lm} '   '", "empty sentence; expected at least one word"),
    ("trace {lm} 白日 --out {lm}/plots", "inside the run directory"),
    ("trace {lm} a b c d e f g h i j k l m n o p q", "at most 16 texts at a time, got 17"),
    ("generate {only_translate}", "`rnnlab generate` needs a model of task"),
    ("generate {only_tagger}", "`rnnlab generate` needs a model of task"),
    ("generate {only_classifier}", "`rnnlab generate` needs a model of task"),
    ("generate {only_cloze}", "`rnnlab generate` needs a model of task"),
    ("generate {only_regression}", "`rnnlab generate` needs a model of task"),
    ("generate {ngram} --form 五言绝句", "--form / --acrostic need a neural poem model"),
    ("generate {lm} --prompt QQQ", "every symbol of the prompt"),
    ("generate {lm} --acrostic 春夏", "an acrostic needs 4 or 8"),
    ("generate {lm} --rhyme 七样", "unknown Pingshui rhyme group '七样'"),
    ("generate {lm} --rhyme ''", "--rhyme expects auto, off or a Pingshui group name"),
    ("generate {ngram} --rhyme auto", "--rhyme auto or a group needs a neural poem model"),
    ("generate {lm} --rhyme auto --prompt 白日", "cannot be combined with --prompt"),
    ("generate {lm} --rhyme 七阳 --beam 2", "cannot be combined with --beam"),
    ("generate {lm} --rhyme auto --form 八言", "unknown poem form '八言'"),
    # --- poem (a user's own poem: rnnlab.poetry)
    ("poem", "expected a poem"),
    ("poem 'hello world'", "expected a Chinese poem"),
    ("poem 白日依山尽，黄河入海流。 Hello", "poem 2: expected a Chinese poem"),
    ("poem --group 八阳", "unknown Pingshui rhyme group '八阳'"),
    ("poem --group ''", "unknown Pingshui rhyme group ''"),
    ("poem 白日依山尽，黄河入海流。 --group 七阳", "give poems or --group, not both"),
    ("poem --input {missing}", "no such file"),
    ("poem --input {empty}", "(the file is empty)"),
    ("generate {missing}", "expected a model directory"),
    ("generate {broken}", "not valid JSON"),
    ("generate {truncated}", "model.safetensors"),
    ("generate {empty_npz}", "model.npz"),
    ("generate {typed}", "field 'order'"),
    # --- score
    ("score {lm}", "expected sentences on the command line or --input FILE"),
    ("score {lm} a --input {poems}", "expected sentences on the command line or --input FILE, not both"),
    ("score {lm} ''", "sentence 1: empty sentence; expected at least one word"),
    ("score {ngram} --input {binary}", "not valid UTF-8"),
    ("score {ngram} --input {missing}.txt", "no such file"),
    ("score {lm} --input {empty}", "no sentences"),
    ("score {only_translate} hello", "`rnnlab score` needs a model of task"),
    # --- translate
    ("translate {lm} hello", "`rnnlab translate` needs a model of task 'smt' or 'translate'"),
    ("train smt --data.dataset files --data.train {missing}.tsv --data.valid {missing}.tsv", "parallel text file not found"),
    ("train smt --model.model1_iterations 0", "model.model1_iterations"),
    ("train smt --model.lm_order 11", "model.lm_order"),
    ("train smt --decode.n_best 20", "1 <= n_best <= beam_size"),
    ("train smt --decode.lm_weight -1", "decode.lm_weight"),
    ("train smt --tune_sentences -1", "tune_sentences"),
    ("train translate --data.dataset files --data.train {mt}/three.de,{mt}/two.en --data.valid {mt}/three.de,{mt}/two.en "
     "--output_dir {missing}", "three.de has 3 lines but"),
    ("train smt --data.dataset files --data.train {mt}/three.de,{mt}/empty.en --data.valid {mt}/three.de,{mt}/empty.en "
     "--output_dir {missing}", "empty.en: empty file"),
    ("train translate --data.dataset files --data.train {mt}/three.de,{mt}/gap.en --data.valid {mt}/three.de,{mt}/gap.en "
     "--output_dir {missing}", "gap.en:2: empty target sentence"),
    ("train translate --data.dataset files --data.train {mt}/three.de,{mt}/three.en --data.valid {mt}/three.de,{mt}/three.en "
     "--trainer.init_from {lm} --output_dir {missing}", "not a 'translate' model"),
    ("train smt --data.dataset files --data.train {mt}/three.de,{mt}/latin1.en --data.valid {mt}/three.de,{mt}/latin1.en "
     "--output_dir {missing}", "latin1.en:3: not valid UTF-8"),
    ("translate {lm} hello --beam 0", "--beam must be an integer >= 1, got 0"),
    ("translate {lm} hello --n-best 0", "--n-best must be an integer >= 1"),
    ("translate {lm} hello --alpha inf", "--alpha must be a finite number"),
    ("translate {lm} hello --alpha 1e308", "--alpha must be a length penalty in [0, 10]"),
    ("translate {lm} hello --attention --out {noplace}", "cannot write artifact directory"),
    ("translate {lm} hello --attention --out {lm}/best", "it is the model directory"),
    ("translate {lm} ' '", "sentence 1: empty sentence; expected at least one word"),
    ("translate {lm} --input {binary}", "not valid UTF-8"),
    ("translate {missing} hello", "expected a model directory"),
    # --- tag
    ("tag {lm} hello", "`rnnlab tag` needs a model of task 'tagger'"),
    ("tag {lm} hello --batch-size 0", "--batch-size must be an integer >= 1, got 0"),
    ("tag {lm} hello --output {noplace}/tags.txt", "cannot write output file"),
    ("tag {only_tagger} --input {poems} --output {poems} --overwrite", "it is an input of this command"),
    ("tag {lm} hello --output {ok_arpa}", "the file already exists; --overwrite replaces it"),
    ("tag {lm} hello --output {lm}/best/tags.txt --overwrite", "inside the model directory"),
    ("tag {lm} hello --output {root}/../tags.txt --json", "--json prints to stdout; drop --output"),
    ("tag {lm} hello --format xml", "invalid choice: 'xml'"),
    ("tag {lm} ' '", "sentence 1: empty sentence; expected at least one word"),
    ("tag {lm}", "expected sentences on the command line or --input FILE"),
    ("tag {broken} hello", "not valid JSON"),
    # --- classify
    ("classify {lm} hello", "`rnnlab classify` needs a model of task"),
    ("classify {lm} hello --top-k 0", "--top-k must be an integer >= 1, got 0"),
    ("classify {lm} ''", "sentence 1: empty sentence; expected at least one word"),
    ("classify {lm} --input {binary}", "not valid UTF-8"),
    ("classify {lm} --input {missing}.txt", "no such file"),
    # --- cloze
    ("cloze {lm} 'the ___ sat'", "`rnnlab cloze` needs a model of task 'cloze'"),
    ("cloze {lm} 'the ___ sat' --top-k 0", "--top-k must be an integer >= 1, got 0"),
    ("cloze {lm} ''", "sentence 1: empty sentence; expected at least one word"),
    # --- predict
    ("predict {lm} hello", "`rnnlab predict` needs a model of task"),
    ("predict {lm}", "expected inputs on the command line or --input FILE"),
    ("predict {unknown_task} x", "unknown task 'astrology'"),
    ("predict {lm} x --batch-size 0", "--batch-size must be an integer >= 1, got 0"),
    ("predict {only_regression} x --input {poems}", "on the command line or --input FILE, not both"),
    ("generate {lm} --no-stream --stop", "expected one argument"),
    ("predict {only_regression} --input {empty}", "empty.txt: no inputs"),
    # --- tree
    ("tree {tree} '[MAX 2 9'", "input 1: unbalanced brackets: '[' at character 0 is never closed"),
    ("tree {tree} '()'", "input 1: empty tree '()' at character 0"),
    ("tree {tree} '[MAX ]'", "input 1: node 'MAX' at character 0 has no children"),
    ("tree {tree} '[MAX 1 2 3 ]'", "input 1: node 'MAX' has 3 children; this model's cell takes at most 2"),
    ("tree {tree} '[MAX 1 [MIN 2 [MAX 3 [MIN 4 5 ] ] ] ]'", "the tree is 4 levels deep; this model takes at most 3"),
    ("tree {tree} ''", "sentence 1: empty sentence"),
    ("tree {tree} '[SM 1 2 ]' --draw value --out {noplace}", "cannot write artifact directory"),
    ("tree {tree} '[SM 1 2 ]' --draw size", "invalid choice: 'size'"),
    ("tree {tree} --input {binary}", "not valid UTF-8"),
    ("tree {lm} '[SM 1 2 ]'", "`rnnlab tree` needs a model of task 'tree'"),
    # --- caption
    ("caption {caption} {binary}", "binary.bin: not an image file"),
    ("caption {caption} {shapes}/truncated.png", "truncated.png: cannot read the image"),
    ("caption {caption} {shapes}/dot.png", "the image is 1x1 pixels; expected at least 8x8"),
    ("caption {caption} {shapes}/bomb.png", "larger than the limit of 40,000,000 pixels"),
    ("caption {caption} {shapes}/missing.png", "no such file (expected images)"),
    ("caption {caption}", "expected images on the command line or --input FILE"),
    ("caption {caption} {shapes}/0.png --beam 0", "--beam must be an integer >= 1, got 0"),
    ("caption {caption} {shapes}/0.png --max-tokens 500", "--max-tokens must be an integer from 1 to 200"),
    ("caption {caption} {shapes}/0.png --attention --out {noplace}", "cannot write artifact directory"),
    ("caption {lm} {shapes}/0.png", "`rnnlab caption` needs a model of task 'caption'"),
    ("train caption --data.dataset files --data.train {shapes}/bad.tsv --output_dir {missing}",
     "bad.tsv:2: image 'missing.png' not found"),
    ("train caption --data.image_size 4", "data.image_size: expected an integer from 8 to 512"),
    ("train caption --model.attention dot", "dot needs them equal"),
    ("train caption --data.dataset files --data.train x.tsv --data.style twitter", "data.style is read only with a built-in"),
    # --- chat
    ("chat {chat} ' '", "sentence 1: empty sentence; expected at least one word"),
    ("chat {chat} hello --persona nobody", "unknown persona 'nobody'; this model knows"),
    ("chat {chat} --input {chat_set}/bad.jsonl", "bad.jsonl:2: not valid JSON"),
    ("chat {chat} --input {binary}", "not valid UTF-8"),
    ("chat {chat} --input {chat_set}/missing.jsonl", "no such file"),
    ("chat {chat} hello --beam 0", "--beam must be an integer >= 1, got 0"),
    ("chat {chat} hello --n-best 0", "--n-best must be an integer >= 1"),
    ("chat {chat} hello --top-k 0", "--top-k must be an integer >= 1, got 0"),
    ("chat {chat} hello --method greedy --n-best 2", "--n-best > 1 and --mmi need --method beam"),
    ("chat {chat} hello --reverse-weight inf", "--reverse-weight must be a finite number"),
    ("chat {chat} hello --mmi {missing}", "expected a model directory"),
    ("chat {chat} hello --conversation ' '", "--conversation: expected a name of 1 to 200 characters"),
    ("chat {lm} hello", "`rnnlab chat` needs a model of task 'chat'"),
    ("train chat --data.dataset files --data.train {chat_set}/bad.jsonl --data.valid {chat_set}/bad.jsonl "
     "--output_dir {missing}", "bad.jsonl:2: not valid JSON"),
    ("train chat --data.max_turns 0", "data.max_turns"),
    ("train chat --model.kind single --model.persona_dim 4", "model.persona_dim"),
    ("train chat --model.persona_output true", "model.persona_output: expected false with persona_dim: 0"),
    ("train chat --model.ranking_tfidf true", "model.ranking_tfidf: expected false with ranking_weight: 0"),
    ("train chat --batches sorted", "batches: expected length / random / null, got 'sorted'"),
    ("train chat --model.ranking_weight -1", "model.ranking_weight: expected a loss weight in [0, 100]"),
    ("train chat --model.kind single --model.ranking_weight 1", "model.ranking_weight: expected 0 with kind: single"),
    ("train chat --trainer.metric r_at_1", "trainer.metric: expected loss / ppl (r_at_1: with model.ranking_weight > 0)"),
    ("train chat --model.ranking_weight 1 --trainer.metric r_at_1", "trainer.mode: expected max with trainer.metric r_at_1"),
    ("train chat --data.dataset nosuch", "data.dataset: expected chitchat / shakespeare-dialogue / files"),
    # --- vqa (ask)
    ("ask {vqa} {vqa_set}/0.png", "--question: expected a question with at least one word, got ''"),
    ("train vqa --model.attention_supervision -1", "model.attention_supervision: expected a number from 0 (off) to 100, got -1.0"),
    ("train vqa --model.attention_supervision nan", "model.attention_supervision: expected a finite number, got nan"),
    ("train vqa --model.head relation --model.attention_supervision 1",
     "model.attention_supervision: expected 0 (off) unless head is attention"),
    ("ask {vqa} {vqa_set}/0.png --question '?!'", "--question: expected a question with at least one word"),
    ("ask {vqa} {vqa_set}/0.png --question 'zorblax quux'", "no word of 'zorblax quux' is known to this model"),
    ("ask {vqa} {vqa_set}/0.png --question what --top-k 0", "--top-k must be an integer >= 1, got 0"),
    ("ask {vqa} {binary} --question what", "binary.bin: not an image file"),
    ("ask {vqa} {shapes}/truncated.png --question what", "truncated.png: cannot read the image"),
    ("ask {vqa} {shapes}/dot.png --question what", "the image is 1x1 pixels; expected at least 8x8"),
    ("ask {vqa} {shapes}/bomb.png --question what", "larger than the limit of 40,000,000 pixels"),
    ("ask {vqa} {vqa_set}/missing.png --question what", "no such file (expected images)"),
    ("ask {vqa} --question what", "expected images on the command line or --input FILE"),
    ("ask {vqa} {vqa_set}/0.png --question what --attention --out {noplace}", "cannot write artifact directory"),
    ("ask {caption} {vqa_set}/0.png --question what", "`rnnlab ask` needs a model of task 'vqa'"),
    ("train vqa --data.dataset files --data.train {vqa_set}/bad.jsonl --output_dir {missing}",
     "bad.jsonl:2: not a JSON object"),
    ("train vqa --data.image_size 4", "data.image_size: expected an integer from 8 to 512"),
    ("train vqa --model.head fusion", "model.head"),
    ("train vqa --model.hops 0", "model.hops: expected an integer from 1 to 8"),
    ("train vqa --data.train x.jsonl", "data.train is read only with data.dataset: files"),
    # --- handwriting / write
    ("write {handwriting} abz", "this model never saw 'z'"),
    ("write {handwriting} ''", "empty"),
    ("write {handwriting}", "expected texts on the command line or --input FILE"),
    ("write {handwriting} abc --bias -1", "--bias must be a number in [0, 10], got -1.0"),
    ("write {handwriting} abc --bias nan", "--bias must be a number in [0, 10]"),
    ("write {handwriting} abc --max-points 0", "--max-points must be an integer >= 1, got 0"),
    ("write {handwriting} abc --max-points 100000", "--max-points must be an integer between 1 and 5000"),
    ("write {handwriting} abc --seed -1", "--seed"),
    ("write {handwriting} abc --out {noplace}", "cannot write artifact directory"),
    ("write {lm} abc", "`rnnlab write` needs a model of task 'handwriting'"),
    ("eval {handwriting} --data {strokes}/nan.npz", "nan.npz: sequence 1: point 2 has a NaN or infinite value"),
    ("eval {handwriting} --data {strokes}/far.npz", "far.npz: sequence 1: point 2 has an absurd offset"),
    ("eval {handwriting} --data {strokes}/svgs", "blank.svg: no <path>, <polyline> or <line>"),
    ("train handwriting --data.dataset files --data.train {strokes}/nan.npz --output_dir {missing}",
     "nan.npz: sequence 1: point 2 has a NaN"),
    ("train handwriting --data.dataset hanzi+kanji", "unknown strokes dataset 'kanji'; expected one of hanzi, kanjivg"),
    ("train handwriting --data.dataset hanzi+", "unknown strokes dataset ''"),
    ("train handwriting --data.max_points 1", "data.max_points: expected an integer from 2 to 100,000"),
    ("train handwriting --model.mixtures 0", "model.mixtures: expected an integer from 1"),
    ("train handwriting --input_noise -0.1", "input_noise: expected a standard deviation in [0, 10]"),
    ("train handwriting --affine_jitter 0.9", "affine_jitter: expected an amount in [0, 0.5]"),
    ("train handwriting --affine_jitter -0.1", "affine_jitter: expected an amount in [0, 0.5]"),
    ("train handwriting --scheduled_sampling 1.5", "scheduled_sampling: expected a share of steps in [0, 1]"),
    ("train handwriting --scheduled_sampling 0.5 --input_noise 0.1",
     "scheduled_sampling: expected 0 when input_noise is set"),
    ("train handwriting --model.window_max_spread -1", "model.window_max_spread: expected null or a number of characters"),
    ("train handwriting --model.window_start 2", "model.window_start: expected a number of characters from -10 to 0"),
    ("train handwriting --window_backward_penalty -1", "window_backward_penalty: expected a weight in [0, 100]"),
    ("train handwriting --model.conditional false --window_backward_penalty 1",
     "window_backward_penalty: expected 0 for an unconditional model"),
    ("train handwriting --model.gated_window true --model.normalized_window true",
     "model.gated_window: expected false when normalized_window is true"),
    ("train handwriting --model.position_input maybe", "model.position_input"),
    ("train handwriting --data.train x.npz", "data.train is read only with data.dataset: files"),
    ("inspect tree {tree} '[MAX 2 9'", "the tree: unbalanced brackets"),
    ("inspect tree {tree} '[SM 1 2 ]' --out tree.png", "expected an .svg file"),
    ("inspect tree {tree}", "expected a tree on the command line or --input FILE"),
    ("inspect seq2seq {lm} hallo", "expected a neural translation model (task 'translate')"),
    ("inspect seq2seq {translate} ''", "source: expected a sentence, got an empty one"),
    ("inspect seq2seq {translate} rot --reference ' '", "--reference: expected a sentence"),
    ("inspect seq2seq {translate} rot --out s.txt", "s.txt"),
    ("inspect seq2seq {translate} rot --out {translate}/s.svg", "inside the run directory"),
    ("inspect seq2seq {translate} rot --reference '" + " ".join(["red"] * 60) + "'", "at most 40 subwords a side"),
    ("inspect seq2seq {missing} rot", "expected a model directory"),
    ("inspect graph {graph}", "give the molecule to draw with --smiles"),
    ("inspect graph {graph} --smiles 'C(('", "RDKit cannot parse this SMILES string"),
    ("inspect graph {graph} --smiles CCO --seed -1", "--seed must be an integer >= 0"),
    ("inspect graph {lm} --smiles CCO", "expected a graph model (task 'graph')"),
    ("inspect graph {graph} --smiles CCO --out g.txt", "g.txt"),
    ("inspect unroll --num-layers 0", "--num-layers must be an integer >= 1, got 0"),
    ("inspect unroll --num-layers 9", "--num-layers must be at most 8 to be drawn, got 9"),
    ("inspect unroll --text ' '", "--text: expected at least one input token"),
    ("inspect unroll --out u.txt", "u.txt"),
    ("inspect unroll --ckpt {ngram}", "has no recurrent layer to draw"),
    ("inspect tree {lm} '[SM 1 2 ]'", "expected a tree model (task 'tree'), got a 'lm' model"),
    ("inspect tree {tree} '[SM 1 2 ]' --out {tree}/best/t.svg", "model directory"),
    ("train tree --data.dataset files --data.train {bad_trees} --output_dir {missing}", "bad-trees.tsv:2: unbalanced"),
    ("train tree --data.dataset nope --output_dir {missing}", "unknown trees dataset 'nope'"),
    ("train tree --data.dataset listops --data.shape left --output_dir {missing}",
     "data.shape: expected parse with data.dataset listops"),
    ("train tree --data.dataset stdlib-methods --data.subtrees true --output_dir {missing}",
     "data.subtrees: expected false unless data.dataset is listops"),
    ("train tree --data.dataset stdlib-methods --data.node_labels true --output_dir {missing}",
     "data.node_labels: expected false unless the trees are ListOps expressions"),
    ("train tree --data.dataset files --data.train {misvalued_trees} --data.valid {misvalued_trees} --data.node_labels true --output_dir {missing}",
     "misvalued-trees.tsv:2: data.node_labels needs ListOps expressions labelled with their value: the tree's value is 4"),
    ("eval {tree} --data {bad_trees}", "bad-trees.tsv:2: unbalanced brackets"),
    # --- graph, physics, smiles, rollout
    ("train graph --data.dataset nope --output_dir {missing}", "data.dataset: expected one of karate, freesolv, qm9 or files"),
    ("train graph --data.dataset files --data.train {bad_smiles} --output_dir {missing}",
     "bad-smiles.csv: no parseable molecule (2 unparseable SMILES skipped, lines 2, 3)"),
    ("train graph --data.dataset files --data.train {poems} --output_dir {missing}", "expected columns 'smiles' and 'target'"),
    ("train graph --trainer.metric rmse --output_dir {missing}", "trainer.metric: expected one of accuracy, loss"),
    ("train graph --data.dataset qm9 --trainer.metric accuracy --output_dir {missing}",
     "trainer.metric: expected one of rmse, mae, r2, loss for qm9"),
    ("train graph --model.reduce min", "model.reduce: expected one of 'sum', 'mean', 'max'"),
    ("train physics --data.dataset karate", "data.dataset: expected one of 'mass-spring'"),
    ("train physics --model.num_steps 0", "model.num_steps: expected an integer from 1 to 64"),
    ("smiles {lm} CCO", "`rnnlab smiles` needs a model of task 'graph'"),
    ("smiles {only_graph}", "expected SMILES strings on the command line or --input FILE"),
    ("smiles {only_graph} CCO --batch-size 0", "--batch-size must be an integer >= 1, got 0"),
    ("smiles {only_graph} --input {missing}.txt", "no such file"),
    ("rollout {lm}", "`rnnlab rollout` needs a model of task 'physics'"),
    ("rollout {only_physics} --steps 0", "--steps must be an integer >= 1, got 0"),
    ("rollout {only_physics} --seed -1", "--seed must be an integer >= 0, got -1"),
    ("inspect graph {only_physics} --seed -1", "--seed must be an integer >= 0"),
    ("train physics --data.dataset n-body --data.max_train 0", "data.max_train"),
    ("rollout {only_physics} --out {noplace}", "cannot write artifact directory"),
    # --- ngram tools
    ("ngram export {lm} {root}/../out.arpa", "not an n-gram model"),
    ("ngram export {ngram} {noplace}/x.arpa", "cannot write ARPA file"),
    ("ngram export {ngram} {ngram}/model.npz --overwrite", "inside the model directory"),
    ("ngram export {ngram} {ok_arpa}", "the file already exists; --overwrite replaces it"),
    ("ngram export {ngram} ''", "expected a path for the ARPA file, got an empty string"),
    ("ngram export {empty_npz} {root}/../out.arpa", "model.npz"),
    ("ngram export {typed} {root}/../out.arpa", "field 'order'"),
    ("ngram import {inf_arpa} --output {root}/../imported", "inf.arpa:8: expected a finite number for the backoff"),
    ("ngram import {nan_arpa} --output {root}/../imported", "nan.arpa:8: expected a finite number"),
    ("ngram import {inf_arpa} --output {noplace}", "cannot write model directory"),
    ("ngram import {missing}.arpa --output {root}/../imported", "no such ARPA file"),
    ("ngram import {binary} --output {root}/../imported", "not valid UTF-8"),
    ("ngram import {ok_arpa} --output {ngram}", "already holds a model; --overwrite replaces it"),
    ("ngram import {ok_arpa} --output {lm}/best", "part of the training run in"),
    ("ngram import {ok_arpa} --output {lm}", "part of the training run in"),  # never replaces a neural run
    ("ngram info {lm}", "not an n-gram model"),
    ("ngram info {missing}", "expected a model directory (with config.json), found none"),
    # --- data
    ("data list --kind nope", "unknown dataset kind 'nope'"),
    ("data fetch nope", "unknown dataset 'nope'"),
    ("data fetch ptb --cache-dir {noplace}", "cannot write dataset cache"),
    ("data info nope", "nope: expected a built-in dataset name"),
    ("data info {binary}", "binary"),
    # --- inspect
    ("inspect diagram --out x.xyz", "'.xyz'; expected one of"),
    ("inspect diagram --out {noplace}/d.png", "cannot write picture"),
    ("inspect diagram --out {lm}/d.png", "inside the run directory"),
    ("inspect gates --random abc --out {lm}/best/g.png", "inside the model directory"),
    ("inspect diagram --cell mgu2", "invalid choice: 'mgu2'"),
    ("inspect --threads 0 diagram", "--threads must be an integer >= 1"),
    ("inspect gates --random", "expected a text"),
    ("inspect gates --random abc --max-units 0", "--max-units must be an integer >= 1, got 0"),
    ("inspect gates --random abc --hidden-size 0", "--hidden-size must be an integer >= 1"),
    ("inspect gates --random abc --out g.xyz", "'.xyz'; expected one of"),
    ("inspect gates --random --input {binary}", "binary.bin"),
    ("inspect gates {ngram} abc", "expected a neural language model directory"),
    ("inspect bptt --steps 0", "--steps must be an integer >= 1, got 0"),
    ("inspect bptt --steps 3 --t 9", "--t must be between 1 and --steps"),
    ("inspect bptt --out {noplace}/b.png", "cannot write picture"),
    ("inspect cost --repeats 0", "--repeats must be an integer >= 1, got 0"),
    ("inspect cost --lengths 10 0", "--lengths must be an integer >= 1, got 0"),
    ("inspect cost --out b.txt", "'.txt'; expected one of"),
    ("inspect gradflow --length 0", "--length must be an integer >= 1"),
    ("inspect gradflow --scale inf", "--scale must be a finite number > 0"),
    ("inspect gradflow --ckpt {ngram}", "expected a neural language model directory"),
    ("inspect gradflow --out {noplace}/g.svg", "cannot write picture"),
    # --- bench
    ("bench --repeats 0", "--repeats must be an integer >= 1, got 0"),
    ("bench --batch-size 0", "--batch-size must be an integer >= 1, got 0"),
    ("bench --hidden-size -1", "--hidden-size must be an integer >= 1"),
    ("bench --cell transformer", "invalid choice: 'transformer'"),
    # --- serve (every mistake is refused before a server starts)
    ("serve {missing}", "expected a model directory (with config.json), found none"),
    ("serve {unknown_task}", "unknown task 'astrology'"),
    ("serve {lm} --port 0", "--port must be an integer >= 1, got 0"),
    ("serve {lm} --port 70000", "--port must be an integer between 1 and 65535, got 70000"),
    ("serve {lm} --host 0.0.0.0", "--host 0.0.0.0 is reachable from other machines: give --token"),
    ("serve {lm} --host 0.0.0.0 --token short", "--token must be at least 8 printable characters"),
    ("serve {lm} --max-concurrent 0", "--max-concurrent must be an integer >= 1, got 0"),
    ("serve {lm} --timeout nan", "--timeout must be a finite number of seconds > 0"),
    ("serve {lm} --batch-window-ms -1", "--batch-window-ms must be a number of milliseconds in [0, 1000]"),
    ("serve {lm} --threads 0", "--threads must be an integer >= 1"),
    # --- demo
    ("demo --steps 0", "--steps must be an integer >= 1, got 0"),
    ("demo --minutes 0", "--minutes must be a finite number > 0"),
    ("demo --minutes nan", "--minutes must be a finite number > 0"),
    ("demo --output-dir {noplace}", "cannot write output directory"),
]

# PART A of issue 14 (run-directory guard and lock, divergence guard, SIGINT, resume with changed settings,
# `rnnlab runs`) adds its rows here, in the same form; they run with the same assertions.
# The run-directory guard (docs/reliability.md "No silent overwrite", "Resume with changed settings"); the lock,
# the divergence stop and SIGINT need a second process or a real run: tests/train/test_rundir.py and
# tests/train/test_trainer_reliability.py.
PART_A_ROWS: list[tuple[str, str]] = [
    ("train lm --data.corpus {poems} --output_dir {lm}", "already holds a 'lm' run: --resume continues it, --overwrite"),
    ("train ngram {poems} --output-dir {lm}", "holds a 'lm' run; training 'ngram' into it would take it over"),
    ("train lm --data.corpus {poems} --output_dir {only_tagger}", "holds a 'tagger' run; training 'lm'"),
    ("train lm --data.corpus {poems} --output_dir {missing} --resume", "has no last/ checkpoint to continue from"),
    ("train lm --data.corpus {poems} --output_dir {lm} --resume --trainer.lr 0.5", "trainer.lr 0.001 -> 0.5"),
    ("train ngram {poems} --output-dir {ngram} --resume", "--resume"),
    ("train ngram {poems} --output-dir {ngram}", "already holds a 'ngram' run: --overwrite moves it aside"),
    ("runs {missing}", "no such directory (expected a folder of training runs"),
    ("runs {empty}", "no such directory"),
]


def _argv(row: str, fx: dict[str, str]) -> list[str]:
    import shlex

    return [part.format(**fx) for part in shlex.split(row)]


def _tree_hash(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
            for path in sorted(root.rglob("*"))}  # fmt: skip


@pytest.mark.parametrize("argv", [["score", "MODEL", "\udcff"], ["train", "lm", "--model.line_marks", "a\udcfe"]])
def test_an_argument_that_is_not_utf8_is_one_line(argv, capsys):
    """Bytes the locale cannot decode reach Python as lone surrogates; every command refuses them up front."""
    assert main(argv) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "is not UTF-8 text" in lines[0] and lines[0].startswith("rnnlab: error: argument")


@pytest.mark.parametrize(("row", "message"), ROWS + PART_A_ROWS, ids=[row for row, _ in ROWS + PART_A_ROWS])
def test_mistake_is_one_line_exit_2_and_changes_nothing(fx, row, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # default outputs (diagram_lstm.png, ...) would land here
    monkeypatch.setenv("RNNLAB_CACHE", str(tmp_path / "cache"))
    root = Path(fx["root"])
    before = _tree_hash(root.parent)
    try:
        status = main(_argv(row, fx))
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert status == 2, f"exit status {status}; stderr: {captured.err}"
    assert "Traceback" not in captured.err
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{captured.err}"
    assert lines[0].startswith("rnnlab: error: "), lines[0]
    assert message in lines[0], f"expected {message!r} in: {lines[0]}"
    assert _tree_hash(root.parent) == before, "the command changed files next to the fixtures"
    assert list(tmp_path.iterdir()) == [], f"the command wrote {list(tmp_path.iterdir())}"


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every leaf command of the parser: ('generate',), ('ngram', 'export'), ('inspect', 'gates'), ..."""
    subparsers = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    if not subparsers:
        return [prefix]
    return [leaf for name, sub in subparsers[0].choices.items() for leaf in _commands(sub, (*prefix, name))]


def _covers(row: str, command: tuple[str, ...]) -> bool:
    """`inspect --threads 0 diagram` covers ('inspect', 'diagram'); `generate {lm}` covers ('generate',)."""
    words = row.split()
    return words[0] == command[0] and all(word in words for word in command[1:])


def test_every_command_has_a_row():
    """A command added to the CLI without a row in the table fails here: add its mistakes to ROWS."""
    rows = [row for row, _ in ROWS + PART_A_ROWS]
    missing = [" ".join(command) for command in _commands(build_parser())
               if not any(_covers(row, command) for row in rows)]  # fmt: skip
    assert not missing, f"commands without a row in tests/test_cli_fuzz.py ROWS: {missing}"


def test_os_errors_become_one_line(tmp_path, capsys, monkeypatch):
    """An OS error that escapes a command (permission, disk full, read-only) is one line naming the path."""
    import errno

    import rnnlab.commands.bench as bench

    for code, words in ((errno.EACCES, "permission denied"), (errno.ENOSPC, "no space left on device"),
                        (errno.EROFS, "read-only file system"), (errno.ENOENT, "no such file or directory")):  # fmt: skip
        def fail(args, code=code):
            raise OSError(code, "strerror", str(tmp_path / "out.txt"))

        monkeypatch.setattr(bench, "run", fail)  # `register` reads it when `main` builds the parser
        assert main(["bench"]) == 2
        assert capsys.readouterr().err == f"rnnlab: error: {tmp_path / 'out.txt'}: {words}\n"


def _unwritable_directory(tmp_path: Path) -> Path | None:
    """A directory this process cannot create files in: /sys as root, a read-only directory otherwise."""
    import os
    import tempfile

    candidates = [Path("/sys")]
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        candidates.insert(0, locked)
    for directory in candidates:
        try:
            handle, name = tempfile.mkstemp(dir=directory)
        except OSError:
            return directory
        os.close(handle)
        os.unlink(name)
    return None


@pytest.mark.parametrize("argv", [
    ["inspect", "diagram", "--out", "{d}/d.png"],
    ["ngram", "import", "{arpa}", "--output", "{d}/model"],
    ["demo", "--output-dir", "{d}/demo"],
    ["data", "fetch", "ptb", "--cache-dir", "{d}/cache"],
])  # fmt: skip
def test_unwritable_output_is_refused_before_the_work(argv, tmp_path, capsys):
    directory = _unwritable_directory(tmp_path)
    if directory is None:
        pytest.skip("no directory here refuses writes to this process")
    arpa = tmp_path / "ok.arpa"
    arpa.write_text(ARPA.format(backoff="-0.25"))
    status = main([part.format(d=directory, arpa=arpa) for part in argv])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1
    assert "permission denied" in err or "read-only file system" in err, err
