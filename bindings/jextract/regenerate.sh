#!/usr/bin/env bash
# Regenerates bindings/src/main/java/dev/engram/bindings/engram_h.java from native/include/engram.h
# with jextract, restricted to the symbols listed in bindings/jextract/includes.txt.
#
# Pinned jextract: 22 (the JDK 22 build of jextract published at https://jdk.java.net/jextract/).
# The committed engram_h.java follows that version's layout; another jextract version writes a
# different layout (e.g. jextract 23+ moves the C_* layouts into an engram_h$shared class), so the
# script refuses other versions unless JEXTRACT_ALLOW_ANY_VERSION=1.
#
# Usage: bindings/jextract/regenerate.sh            (jextract on PATH, or JEXTRACT=/path/to/bin/jextract)
#
# Library loading: the generated class must NOT load libengram itself. With
# `--library engram --use-system-load-library` jextract 22 writes `static { System.loadLibrary("engram"); }`
# into engram_h, which fails whenever libengram is not on java.library.path (our normal case: the
# loader extracts it from the jar and System.load()s the temp file). Without --library, jextract
# emits exactly the lookup we want, SymbolLookup.loaderLookup().or(Linker.nativeLinker().defaultLookup()),
# and finds the symbols of the library that dev.engram.nativelib.NativeLibraryLoader loaded.
# So neither --library nor --use-system-load-library is passed (the latter does nothing without
# --library except emit an empty static block).
set -euo pipefail

PINNED_MAJOR=22
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
header="$root/native/include/engram.h"
includes="$here/includes.txt"
out_src="$root/bindings/src/main/java"
pkg_dir="dev/engram/bindings"

die() { echo "regenerate.sh: $*" >&2; exit 1; }

jextract_bin="${JEXTRACT:-}"
if [[ -z "$jextract_bin" ]]; then
  jextract_bin="$(command -v jextract || true)"
fi
if [[ -z "$jextract_bin" || ! -x "$jextract_bin" ]]; then
  cat >&2 <<EOF
regenerate.sh: jextract not found (not on PATH and JEXTRACT is not set).
  Download jextract $PINNED_MAJOR from https://jdk.java.net/jextract/ (linux-x64 tarball), unpack it and
  either put its bin/ on PATH or run:  JEXTRACT=/path/to/jextract-$PINNED_MAJOR/bin/jextract $0
  Nothing was regenerated; the committed engram_h.java is unchanged.
EOF
  exit 2
fi

version_text="$("$jextract_bin" --version 2>&1 || true)"
first_line="$(printf '%s\n' "$version_text" | head -n 1)"
if ! grep -Eq "(^|[^0-9])${PINNED_MAJOR}([^0-9]|$)" <<<"$first_line"; then
  if [[ "${JEXTRACT_ALLOW_ANY_VERSION:-0}" != "1" ]]; then
    die "jextract at $jextract_bin reports '$first_line', expected version $PINNED_MAJOR.
  Its output layout may differ from the committed bindings. Set JEXTRACT_ALLOW_ANY_VERSION=1 to run it anyway."
  fi
  echo "regenerate.sh: warning: using jextract '$first_line' instead of $PINNED_MAJOR" >&2
fi

[[ -f "$header" ]] || die "header not found: $header"
[[ -f "$includes" ]] || die "symbol list not found: $includes"

# Every function and #define ENGRAM_* of the header must be listed, or jextract silently drops it.
missing=()
while read -r fn; do
  grep -Eq -- "^--include-function[[:space:]]+$fn([[:space:]]|$)" "$includes" || missing+=("--include-function $fn")
done < <(perl -0777 -pe 's{/\*.*?\*/}{}gs; s{//[^\n]*}{}g' "$header" \
           | grep -Eo '\bengram_[a-z0-9_]+[[:space:]]*\(' | sed -E 's/[[:space:]]*\($//' | sort -u)
while read -r macro; do
  grep -Eq -- "^--include-constant[[:space:]]+$macro([[:space:]]|$)" "$includes" || missing+=("--include-constant $macro")
done < <(grep -Eo '^#define[[:space:]]+ENGRAM_[A-Z0-9_]+[[:space:]]+[-0-9]' "$header" | awk '{print $2}' | sort -u)
if ((${#missing[@]})); then
  die "includes.txt lacks symbols declared in engram.h; add these lines:
$(printf '  %s\n' "${missing[@]}")"
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "regenerate.sh: $jextract_bin ($first_line)"
"$jextract_bin" \
  --output "$tmp" \
  --target-package dev.engram.bindings \
  --header-class-name engram_h \
  --include-dir "$root/native/include" \
  "@$includes" \
  "$header"

[[ -f "$tmp/$pkg_dir/engram_h.java" ]] || die "jextract did not write $pkg_dir/engram_h.java"
mkdir -p "$out_src/$pkg_dir"
cp "$tmp/$pkg_dir"/*.java "$out_src/$pkg_dir/"
echo "regenerate.sh: wrote $(cd "$tmp/$pkg_dir" && ls *.java | sed "s|^|$out_src/$pkg_dir/|" | tr '\n' ' ')"
echo "regenerate.sh: review with 'git diff -- bindings/src', run 'mvn -B verify', then commit."
