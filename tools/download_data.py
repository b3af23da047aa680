"""Downloads SemEval, PubMed and GloVe for users with a network.

  python tools/download_data.py --datasets=semeval,pubmed,glove
  python tools/download_data.py --datasets=glove --base_url=https://my.mirror/path

Files go to --data_dir (default: $MSFML_DATA, else ~/.cache/msfml_jax/data, where the
loaders look). Digests are checked where known; the manifest is in msfml_jax/data/download.py.
`glove840b` (the paper's 300d vectors, a 2 GB zip) is available but not in the default list.
Note: SemEval's default `semeval/{train,test}.json` (spaCy parse) are derived files; this
fetches AGGCN's CoreNLP-parsed copies (`semeval/*_corenlp_aggcn.json`) and the sources.
"""

from __future__ import annotations

import os
import pathlib
import sys

from absl import app
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from msfml_jax import paths  # pylint: disable=g-import-not-at-top
from msfml_jax.data import download  # pylint: disable=g-import-not-at-top

_DATASETS = flags.DEFINE_list("datasets", ["semeval", "pubmed", "glove"],
                              f"Any of {', '.join(download.DATASETS)}.")
_DATA_DIR = flags.DEFINE_string("data_dir", "", "Destination (default $MSFML_DATA or "
                                f"{paths.DEFAULT_DOWNLOAD_DIR}).")
_BASE_URL = flags.DEFINE_string("base_url", "", "Mirror: replaces scheme and host of every URL.")
_FORCE = flags.DEFINE_bool("force", False, "Download again even when the file is present.")


def main(argv: list[str]) -> None:
  del argv
  data_dir = pathlib.Path(_DATA_DIR.value or os.environ.get("MSFML_DATA")
                          or paths.DEFAULT_DOWNLOAD_DIR).expanduser()
  for path in download.download(_DATASETS.value, data_dir, _BASE_URL.value, _FORCE.value):
    print(path)


if __name__ == "__main__":
  app.run(main)
