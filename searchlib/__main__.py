"""`python -m searchlib ...` runs the same CLI as the `searchlib` command."""

from searchlib.cli import main

if __name__ == "__main__":
    main()
