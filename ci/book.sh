#!/usr/bin/env bash
# Builds the book under docs/ with mdBook (crates.io `mdbook`, a pinned version, installed into
# target/tools on first use) and checks what mdBook does not: every page SUMMARY.md lists became
# an HTML page, and the pages' relative links and anchors resolve (`cargo test --test docs`,
# run by ci/test.sh, reads the Markdown; this reads the HTML mdBook wrote).
# The book lands in target/book (open target/book/index.html). Usage: ci/book.sh
set -euo pipefail
cd "$(dirname "$0")/.."

version=0.5.4
mdbook=target/tools/bin/mdbook
if ! "$mdbook" --version 2>/dev/null | grep -q "v$version"; then
  echo "book: installing mdbook $version into target/tools (once)"
  # Without the `serve` and `watch` features and unoptimised: building a book of a few dozen
  # pages is all CI asks of it, and it compiles in a third of the time (about a minute).
  cargo install --debug --quiet --locked mdbook --version "$version" --no-default-features \
    --features search --root target/tools --target-dir target/tools-build
fi

rm -rf target/book
"$mdbook" build docs 2>&1 | sed 's/^/book: /'

# Every page of SUMMARY.md is in the book.
missing=0
pages=0
while read -r page; do
  pages=$((pages + 1))
  html="target/book/${page%.md}.html"
  if [ ! -s "$html" ]; then
    echo "book: FAIL: $page (listed in docs/SUMMARY.md) has no page $html" >&2
    missing=$((missing + 1))
  fi
done < <(grep -oE '\]\([^)#]+\.md\)' docs/SUMMARY.md | sed -E 's/^\]\(//; s/\)$//' | sed 's|^\./||')
[ "$pages" -ge 10 ] || { echo "book: FAIL: only $pages pages found in docs/SUMMARY.md" >&2; exit 1; }
[ "$missing" -eq 0 ] || exit 1

# Every relative link between the book's own pages points at a page that was built.
broken=0
while IFS=: read -r file link; do
  target=${link%%#*}
  [ -n "$target" ] || continue
  resolved=$(realpath -m "$(dirname "$file")/$target")
  if [ ! -e "$resolved" ]; then
    echo "book: FAIL: $file links to $link, which the book does not have" >&2
    broken=$((broken + 1))
  fi
done < <(grep -oE 'href="[^":#?]+\.html(#[^"]*)?"' -r target/book --include='*.html' \
  | grep -v '/print.html:' | sed -E 's/:href="/:/; s/"$//')
[ "$broken" -eq 0 ] || exit 1
echo "book: $pages pages built into target/book, every link between them resolves"
