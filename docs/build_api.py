"""The API reference is built by Sphinx from the docstrings (``make docs`` writes
``build/docs/index.html``; ``make lint`` builds it with numpydoc validation, warnings as
errors); ``docs/api.md`` is gone. This stub stays so that old habits
(``python docs/build_api.py``) say so instead of failing."""

import sys

if __name__ == "__main__":
    print("docs/api.md is no longer generated: the API reference is built by Sphinx "
          "(make docs -> build/docs/index.html; make lint checks it)", file=sys.stderr)
