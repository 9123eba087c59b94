#!/usr/bin/env bash
# Where each public dataset comes from, where stackgrad looks for it, and (only when asked) a
# download of the ones that need no conversion.
#
#   bash scripts/get-data.sh                         # show sources and which datasets are found
#   bash scripts/get-data.sh --download DIR mnist    # fetch into DIR/mnist (also: fashion-mnist, uci)
#   STACKGRAD_DATA=DIR ./build/<program>             # or pass --data-dir DIR
#
# Lookup order for a dataset folder (datasets/data_root.h): --data-dir, $STACKGRAD_DATA,
# ../shared/datasets beside the checkout, /usr/share/datasets.
set -euo pipefail
cd "$(dirname "$0")/.."

describe() {
  cat <<'TXT'
Datasets and their sources (folder name under a data root, then files):

mnist/            train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
                  t10k-images-idx3-ubyte.gz  t10k-labels-idx1-ubyte.gz
  Y. LeCun, C. Cortes, C. Burges, "The MNIST database of handwritten digits" (IDX files, gzip).
  Download: --download DIR mnist (from a public mirror of the original files).

fashion-mnist/    same four file names as mnist/
  H. Xiao, K. Rasul, R. Vollgraf (2017), Zalando Research, MIT license.
  Debian: apt-get install dataset-fashion-mnist  (installs /usr/share/datasets/fashion-mnist)
  Download: --download DIR fashion-mnist

planetoid/{cora,citeseer,pubmed}/
                  features.npy (f32 [N, F]) labels.npy (i64 [N], -1 unlabelled)
                  edges.npy (i64 [E, 2], i < j, unique) train_idx.npy val_idx.npy test_idx.npy
  Yang, Cohen & Salakhutdinov (ICML 2016), the ind.<name>.{x,y,tx,ty,allx,ally,graph,test.index}
  pickles of the Planetoid release (also in the GCN reference code, Kipf & Welling 2017).
  Convert with numpy: node order and split as in Kipf's load_data (train = range(len(y)),
  val = the next 500, test = sorted(test.index)); features = vstack(allx, tx) rows reordered
  by test.index. PubMed's features.npy is NOT in the shared data folder (the allx matrix was not
  available): build it from ind.pubmed.allx/tx as above (f32 [19717, 500]) and put it in
  planetoid/pubmed/ to use PubMed features.

omniglot/         <set>_images.npy.gz (u8 [N, 105, 105]) <set>_labels.npy <set>_classes.tsv
                  for background_small1, background_small2, evaluation; oneshot_*.npy(.gz)
                  and oneshot_runs.tsv
  Lake, Salakhutdinov & Tenenbaum (Science 2015), MIT license: images_background_small1/2.zip,
  images_evaluation.zip and all_runs.zip of the Omniglot repository. Pixels as in the PNGs
  (1 = background, 0 = ink); images ordered by alphabet, character, file name.

uci/              iris.csv wine_data.csv breast_cancer.csv digits.csv.gz
  The copies bundled with scikit-learn (sklearn/datasets/data/), BSD-3-Clause; the data are
  from the UCI Machine Learning Repository (cite the original donors).
  Debian: apt-get install python3-sklearn, then copy the four files; or --download DIR uci.

No file: csbm / blobs / spirals (datasets/synthetic.h) are generated from a seed.
TXT
}

roots() {
  [ -n "${STACKGRAD_DATA:-}" ] && echo "$STACKGRAD_DATA"
  for d in ../shared/datasets ../../shared/datasets; do
    [ -d "$d" ] && (cd "$d" && pwd)
  done
  echo /usr/share/datasets
}

show_found() {
  echo "Found:"
  for name in mnist fashion-mnist planetoid/cora planetoid/citeseer planetoid/pubmed omniglot uci; do
    where="(missing)"
    while read -r root; do
      if [ -d "$root/$name" ]; then where="$root/$name"; break; fi
    done < <(roots)
    printf '  %-20s %s\n' "$name" "$where"
  done
}

fetch() {  # fetch URL FILE: downloads once, into place atomically
  local url=$1 out=$2
  if [ -s "$out" ]; then echo "  have $out"; return; fi
  echo "  $url"
  curl -fL --retry 3 -o "$out.part" "$url"
  mv "$out.part" "$out"
}

download() {
  local dir=$1
  shift
  [ $# -gt 0 ] || { echo "get-data: name what to download (mnist, fashion-mnist, uci)" >&2; exit 2; }
  command -v curl > /dev/null || { echo "get-data: curl is needed" >&2; exit 1; }
  for name in "$@"; do
    case "$name" in
      mnist | fashion-mnist)
        local base
        if [ "$name" = mnist ]; then
          base=https://ossci-datasets.s3.amazonaws.com/mnist
        else
          base=https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion
        fi
        mkdir -p "$dir/$name"
        for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
                 t10k-labels-idx1-ubyte; do
          fetch "$base/$f.gz" "$dir/$name/$f.gz"
        done
        ;;
      uci)
        mkdir -p "$dir/uci"
        local base=https://raw.githubusercontent.com/scikit-learn/scikit-learn/1.2.1/sklearn/datasets/data
        for f in iris.csv wine_data.csv breast_cancer.csv digits.csv.gz; do
          fetch "$base/$f" "$dir/uci/$f"
        done
        ;;
      *)
        echo "get-data: no download for '$name' (see the sources above for how to build it)" >&2
        exit 2
        ;;
    esac
  done
  echo "get-data: done; use --data-dir $dir or STACKGRAD_DATA=$dir"
}

case "${1:-}" in
  --download)
    [ $# -ge 2 ] || { echo "usage: $0 --download DIR NAME..." >&2; exit 2; }
    download "${@:2}"
    ;;
  -h | --help) sed -n '2,9p' "$0" ;;
  "")
    describe
    show_found
    ;;
  *)
    echo "usage: $0 [--download DIR NAME...]" >&2
    exit 2
    ;;
esac
