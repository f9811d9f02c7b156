#!/usr/bin/env bash
# Regenerates the committed FFM bindings with jextract. Two targets:
#   engram (default): bindings/src/main/java/dev/engram/bindings/engram_h.java from native/include/engram.h,
#                     restricted to the symbols listed in bindings/jextract/includes.txt;
#   cuda:             bindings/src/main/java/dev/engram/bindings/cuda_runtime_h.java from the CUDA toolkit's
#                     cuda_runtime_api.h ($CUDA_HOME/include, default /usr/local/cuda/include), restricted to
#                     bindings/jextract/cuda_runtime_includes.txt;
#   cublas:           bindings/src/main/java/dev/engram/bindings/cublas_h.java from the toolkit's cublas_api.h
#                     (same include directory; needs the cuBLAS headers installed), restricted to
#                     bindings/jextract/cublas_includes.txt. cublas_api.h refuses to be parsed unless CUBLASAPI is
#                     defined (cublas_v2.h defines it, and #defines the short names to the _v2 exports); we pass
#                     --define-macro CUBLASAPI=extern and parse cublas_api.h itself, so jextract sees the real _v2 declarations.
# All three committed files were hand-written in jextract 22's layout (jextract was not installable where they
# were written, nor was cuBLAS for cublas_h); running this replaces them with jextract's real output.
#
# Pinned jextract: 22 (the JDK 22 build of jextract published at https://jdk.java.net/jextract/).
# The committed engram_h.java follows that version's layout; another jextract version writes a
# different layout (e.g. jextract 23+ moves the C_* layouts into an engram_h$shared class), so the
# script refuses other versions unless JEXTRACT_ALLOW_ANY_VERSION=1.
#
# Usage: bindings/jextract/regenerate.sh [engram|cuda|cublas]   (jextract on PATH, or JEXTRACT=/path/to/bin/jextract)
#
# Library loading: the generated class must NOT load libengram itself. With
# `--library engram --use-system-load-library` jextract 22 writes `static { System.loadLibrary("engram"); }`
# into engram_h, which fails whenever libengram is not on java.library.path (our normal case: the
# loader extracts it from the jar and System.load()s the temp file). Without --library, jextract
# emits exactly the lookup we want, SymbolLookup.loaderLookup().or(Linker.nativeLinker().defaultLookup()),
# and finds the symbols of the library that dev.engram.nativelib.NativeLibraryLoader loaded.
# So neither --library nor --use-system-load-library is passed (the latter does nothing without
# --library except emit an empty static block).
# The same holds for the cuda and cublas targets: libcudart.so.13 and libcublas.so.13 are System.load()ed by
# dev.engram.nativelib (CudaRuntimePreloader, NativeLibraryLoader.requireCublas), so cuda_runtime_h and cublas_h
# resolve them through loaderLookup() too (no --library).
set -euo pipefail

PINNED_MAJOR=22
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${1:-engram}"
extra_args=()
case "$target" in
  engram)
    header="$root/native/include/engram.h"
    includes="$here/includes.txt"
    class_name=engram_h
    include_dir="$root/native/include"
    ;;
  cuda)
    include_dir="${CUDA_HOME:-/usr/local/cuda}/include"
    header="$include_dir/cuda_runtime_api.h"
    includes="$here/cuda_runtime_includes.txt"
    class_name=cuda_runtime_h
    ;;
  cublas)
    include_dir="${CUDA_HOME:-/usr/local/cuda}/include"
    header="$include_dir/cublas_api.h"
    includes="$here/cublas_includes.txt"
    class_name=cublas_h
    extra_args=(--define-macro CUBLASAPI=extern)
    ;;
  *) echo "regenerate.sh: unknown target '$target' (expected engram, cuda or cublas)" >&2; exit 2 ;;
esac
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
  Nothing was regenerated; the committed $class_name.java is unchanged.
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

# Every function and #define ENGRAM_* of engram.h must be listed, or jextract silently drops it.
# (The cuda and cublas targets bind a chosen subset of a large header, so they have no such completeness check.)
missing=()
if [[ "$target" == engram ]]; then
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
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "regenerate.sh: $jextract_bin ($first_line)"
"$jextract_bin" \
  --output "$tmp" \
  --target-package dev.engram.bindings \
  --header-class-name "$class_name" \
  --include-dir "$include_dir" \
  ${extra_args[@]+"${extra_args[@]}"} \
  "@$includes" \
  "$header"

[[ -f "$tmp/$pkg_dir/$class_name.java" ]] || die "jextract did not write $pkg_dir/$class_name.java"
mkdir -p "$out_src/$pkg_dir"
cp "$tmp/$pkg_dir"/*.java "$out_src/$pkg_dir/"
echo "regenerate.sh: wrote $(cd "$tmp/$pkg_dir" && ls *.java | sed "s|^|$out_src/$pkg_dir/|" | tr '\n' ' ')"
echo "regenerate.sh: review with 'git diff -- bindings/src', run 'mvn -B verify', then commit."
