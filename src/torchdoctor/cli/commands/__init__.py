"""One module per subcommand, each with `run(args) -> int`: argv to a workflow call, its outcome to text and an exit
code. Nothing here decides what the workflow decides."""
