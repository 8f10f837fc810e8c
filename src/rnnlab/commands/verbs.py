"""Every task's verbs as sub-commands: `rnnlab VERB MODEL_DIR [INPUT ...] [--input FILE] [--json] [--out DIR]`.

Nothing here knows a verb by name. The parsers are built from the command index (rnnlab.tasks.index:
names, helps and option fields, read without importing torch); running one finds the verb on the model's
task (rnnlab.verbs.Verb), makes its typed options, reads and checks the inputs, then loads the model and
prints what the verb yields: result dicts as text (the verb's `format`) or one JSON object per line
(`--json`), streamed text as it comes, artifacts written under `--out DIR` (default: the current directory).

Order of checks, so a mistake costs nothing: options, the output paths, the inputs, then the model's task
(a model that does not offer the verb names the tasks that do), and only then the model is loaded.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rnnlab.commands.output import add_json_flag, print_json

_KINDS = {"int": int, "float": float, "str": str}


def register(commands) -> None:
    from rnnlab.tasks.index import command_index

    index = command_index()
    for name, info in index["verbs"].items():
        if name in commands.top.choices:
            print(f"rnnlab: warning: verb {name!r} of task(s) {', '.join(info['tasks'])} is also a command of "
                  "rnnlab's own; the command wins", file=sys.stderr)  # fmt: skip
            continue
        add_verb_parser(commands.top, name, info)


def add_verb_parser(top: argparse._SubParsersAction, name: str, info: dict[str, Any]) -> argparse.ArgumentParser:
    """The sub-command of one verb, from its description (`rnnlab.verbs.Verb.describe`)."""
    from rnnlab.verbs import OptionField

    tasks = " or ".join(info["tasks"])
    what = info["what"]
    parser = top.add_parser(name, help=info["help"], description=(info.get("description") or info["help"])
                            + f" (models of task {tasks})")  # fmt: skip
    parser.add_argument("checkpoint", help=f"model directory of task {tasks} (or a run directory: its best/)")
    if info["inputs"] == "text":
        parser.add_argument("inputs", nargs="*", metavar=what.upper(), help=f"{what}, one per argument")
        parser.add_argument("--input", metavar="FILE", help=f"{what}, one per line of this file ('-': stdin)")
    elif info["inputs"] == "files":
        parser.add_argument("inputs", nargs="*", metavar="FILE", help=f"{what}: paths of files")
        parser.add_argument("--input", metavar="LIST", help="a text file naming one input file per line")
    names = []
    for data in info["options"]:
        field = OptionField.from_json(data)
        names.append(field.name)
        default = argparse.SUPPRESS  # only what the user gives; the options dataclass holds the defaults
        if field.kind == "bool":
            if field.default:
                parser.add_argument(f"--no-{field.flag[2:]}", dest=field.name, action="store_false",
                                    default=default, help=field.help)  # fmt: skip
            else:
                parser.add_argument(field.flag, dest=field.name, action="store_true", default=default, help=field.help)
        elif field.kind == "list":
            parser.add_argument(field.flag, dest=field.name, action="append", default=default, help=field.help)
        else:
            shown = f" (default {field.default})" if field.default not in (None, "") else ""
            parser.add_argument(field.flag, dest=field.name, type=_KINDS[field.kind], choices=field.choices,
                                default=default, help=field.help + shown)  # fmt: skip
    add_json_flag(parser)
    if "output" in names and "overwrite" not in names:  # a verb that writes a file the user names
        parser.add_argument("--overwrite", action="store_true", help="replace an existing --output file")
    if info["artifacts"]:
        parser.add_argument("--out", metavar="DIR", default=None,
                            help="write pictures and other artifacts here (default: the current directory); "
                                 "an existing file is kept and the new one takes the next free name "
                                 "(attention-2.png)")  # fmt: skip
    parser.set_defaults(handler=run_verb_command, verb_name=name, option_names=names)
    return parser


def run_verb_command(args: argparse.Namespace) -> int:
    from rnnlab.errors import UserError
    from rnnlab.paths import guard_output_dir, guard_output_file
    from rnnlab.tasks.registry import all_verbs, resolve_model_dir, task_offering
    from rnnlab.verbs import make_options

    verb = all_verbs().get(args.verb_name)
    if verb is None:  # listed by the index, gone now: its plugin failed to load this time (warned above)
        raise UserError(f"`rnnlab {args.verb_name}`: no registered task offers this verb now")
    options = make_options(verb.options, {name: getattr(args, name) for name in args.option_names if hasattr(args, name)})
    read = [args.checkpoint, getattr(args, "input", None)]  # what the command reads: never an output
    if verb.inputs == "files":
        read += list(getattr(args, "inputs", []) or [])
    out_dir = getattr(args, "out", None)
    if out_dir is not None:
        guard_output_dir(out_dir, "artifact directory", inputs=read)
    output_file = getattr(options, "output", None)
    if output_file is not None:
        if args.json:
            raise UserError("--json prints to stdout; drop --output (or --json)")
        guard_output_file(output_file, "output file", inputs=read, overwrite=getattr(args, "overwrite", False))
    inputs = read_inputs(verb, args, options)
    if inputs is None and args.json and sys.stdin.isatty():
        raise UserError(f"--json needs {verb.what} as arguments, --input FILE or piped stdin, not the interactive prompt")
    task = task_offering(args.checkpoint, verb.name)
    task_verb = task.verb(verb.name)
    model = task.load(resolve_model_dir(args.checkpoint))
    printer = Printer(task_verb, options, as_json=args.json, out_dir=Path(out_dir or "."), output_file=output_file,
                      out_checked=out_dir is not None)  # fmt: skip
    if inputs is not None:
        printer.emit(task_verb.run(model, inputs, options))
    else:  # an interactive verb without inputs: one line at a time, from the terminal or a pipe
        if sys.stdin.isatty():
            print(f"Type one of the {verb.what} per line (Ctrl-D to quit).", file=sys.stderr)
        for line in sys.stdin:
            if line.strip():
                printer.emit(task_verb.run(model, [line.rstrip("\n")], options))
    printer.finish()
    return 0


def read_inputs(verb, args: argparse.Namespace, options: Any) -> list | None:
    """The verb's inputs from the arguments or --input FILE, checked; None: read them interactively."""
    from rnnlab.errors import UserError
    from rnnlab.files import read_input_lines

    if verb.inputs == "none":
        return []
    given, path = list(getattr(args, "inputs", []) or []), getattr(args, "input", None)
    if given and path:
        raise UserError(f"expected {verb.what} on the command line or --input FILE, not both")
    if path is not None:
        inputs = verb.read_file(path, options) if verb.read_file is not None else read_input_lines(path, verb.what)
    else:
        inputs = given
    if not inputs and verb.requires_inputs(options):
        if verb.interactive:
            return None
        raise UserError(f"expected {verb.what} on the command line or --input FILE (one of the two)")
    if verb.inputs == "text":
        from rnnlab.validation import check_sentences

        check_sentences([item for item in inputs if isinstance(item, str)], path)
    elif verb.inputs == "files":
        from rnnlab.errors import DataError

        for item in inputs:
            if not Path(item).is_file():
                raise DataError(f"{item}: no such file (expected {verb.what})")
    return inputs


class Printer:
    """Prints what a verb yields: text or JSON lines, streamed deltas, artifacts written to files."""

    def __init__(self, verb, options: Any, as_json: bool, out_dir: Path, output_file: str | None,
                 out_checked: bool = False) -> None:  # fmt: skip
        self.verb, self.options, self.as_json = verb, options, as_json
        self.out_dir, self.output_file = out_dir, output_file
        self.out_checked = out_checked  # the default out_dir (".") is checked at the first artifact
        self.collect = not as_json and (verb.format_all is not None or output_file is not None)
        self.results: list[dict] = []
        self.streamed = False  # text of the coming result was streamed
        self.streaming = False  # ... and its line is not yet ended
        self.written: set[str] = set()

    def emit(self, outputs) -> None:
        from rnnlab.verbs import Artifact, TextDelta, format_result

        for item in outputs:
            if isinstance(item, TextDelta):
                if not self.as_json and not self.collect and item.text:
                    sys.stdout.write(item.text)
                    sys.stdout.flush()
                    self.streaming, self.streamed = not item.text.endswith("\n"), True
            elif isinstance(item, Artifact):
                self._write_artifact(item)
            elif self.as_json:
                print_json(item)
            elif self.collect:
                self.results.append(item)
            elif self.streamed:  # the text is already out, token by token: end its line
                if self.streaming:
                    print()
                self.streaming = self.streamed = False
            else:
                print(format_result(self.verb, item, self.options))

    def finish(self) -> None:
        from rnnlab.verbs import format_result

        if not self.collect:
            return
        if self.verb.format_all is not None:
            text = self.verb.format_all(self.results, self.options)
        else:
            text = "".join(format_result(self.verb, result, self.options) + "\n" for result in self.results)
        if self.output_file:
            from rnnlab.files import write_text_atomically

            write_text_atomically(self.output_file, text)
        else:
            sys.stdout.write(text)

    def _write_artifact(self, artifact) -> None:
        """A new file in out_dir: an existing file (or one written earlier in this command) is never
        replaced, the artifact takes the next free name (attention.png, attention-2.png, ...)."""
        from rnnlab.files import write_new_file
        from rnnlab.paths import guard_output_dir

        if not self.out_checked:  # the current directory: not a model or run directory either
            guard_output_dir(self.out_dir, "artifact directory")
            self.out_checked = True
        path = write_new_file(self.out_dir, artifact.name, artifact.data, self.written)
        if self.as_json:
            print_json({"artifact": path.name, "media_type": artifact.media_type, "path": str(path)})
        else:
            print(f"{artifact.media_type}: {path}", file=sys.stderr)
