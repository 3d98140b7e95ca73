"""`secure-ai clients …`: the operator's commands for client records and their signing keys.

    secure-ai clients create|rotate|revoke|list|show ...

Registered as a subcommand of the `secure-ai` command through the `secure_ai.commands` entry point
(packages/gateway/pyproject.toml; the contract is secure_ai_protocol.command_line). Output is JSON on
stdout; errors are one line on stderr. Exit codes: 0 success, 1 the operation failed (no such client,
conflict, AWS error), 2 bad arguments or configuration (nothing was changed).

A new secret is printed once (or written to `--secret-file`, mode 0600, never printed); `list`
and `show` never contain one. Nothing here logs.

    commands.py     the command tree, and how its failures become exit codes
    actions.py      what each action does
    aws_target.py   which table, key, region and endpoint the actions act on
    arguments.py    argument types
    output.py       JSON on stdout, messages on stderr
"""
