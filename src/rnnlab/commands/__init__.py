"""CLI command modules; each exposes `register(commands: rnnlab.cli.Commands)`."""
