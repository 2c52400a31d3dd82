"""``python -m logtrace``."""

from logtrace.cli import main

if __name__ == "__main__":
    main()
