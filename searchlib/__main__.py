"""`python -m searchlib ...` and the `searchlib` command: the CLI, with Ctrl-C handled from
the first moment (`import searchlib` is light; loading the CLI and the engine is not)."""

from searchlib.interrupt import exit_interrupted


def main() -> None:
    try:
        from searchlib.cli import main as cli_main

        cli_main()
    except KeyboardInterrupt:
        exit_interrupted()


if __name__ == "__main__":
    main()
