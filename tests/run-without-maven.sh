#!/usr/bin/env bash
# Runs the whole test suite from a bundle made by tests/make-bundle.sh, without Maven or network
# (e.g. on the GPU machine). Java: the bundle's jlink'ed runtime (jre.tar.gz, unpacked on first use
# into $ENGRAM_JRE_DIR or $TMPDIR/engram-bundle-jre-<checksum>), else $JAVA_HOME/bin/java, else java
# on PATH (22 or newer).
#
# Usage: tests/run-without-maven.sh [--bundle DIR] [console launcher args...]
#   DIR defaults to $ENGRAM_BUNDLE or .gpu/ at the repository root.
#   Extra args go to the JUnit console launcher, e.g. --select-class dev.engram.GpuStatusTest
#   (an explicit --select* replaces the default class path scan) or --reports-dir out/.
#   JVM options come from $ENGRAM_JAVA_OPTS, e.g. ENGRAM_JAVA_OPTS=-Dengram.requireGpu=true
#   (on a GPU machine: makes @RequiresGpu tests fail instead of skip when no GPU is usable).
# Exit status: the console launcher's (0 all passed, 1 failures, 2 no tests found).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="${ENGRAM_BUNDLE:-$root/.gpu}"
if [[ "${1:-}" == "--bundle" ]]; then
  [[ $# -ge 2 ]] || { echo "run-without-maven.sh: --bundle needs a directory" >&2; exit 64; }
  bundle="$2"
  shift 2
fi
die() { echo "run-without-maven.sh: $*" >&2; exit 64; }

[[ -d "$bundle" ]] || die "no bundle at $bundle (make one with tests/make-bundle.sh where Maven is available)"
bundle="$(cd "$bundle" && pwd)"

launcher="$(ls "$bundle"/junit-platform-console-standalone-*.jar 2>/dev/null | head -n 1 || true)"
[[ -n "$launcher" ]] || die "no junit-platform-console-standalone-*.jar in $bundle"
[[ -d "$bundle/lib" ]] || die "no lib/ in $bundle"

# Java: the bundled runtime first, unpacked outside the bundle (which stays small enough to travel and
# may be read-only) into a directory keyed by the tarball's checksum.
if [[ -f "$bundle/jre.tar.gz" ]]; then
  sum="$(cksum < "$bundle/jre.tar.gz" | cut -d' ' -f1)"
  jre_dir="${ENGRAM_JRE_DIR:-${TMPDIR:-/tmp}/engram-bundle-jre-$sum}"
  if [[ ! -x "$jre_dir/jre/bin/java" ]]; then
    rm -rf "$jre_dir"
    unpack="$(mktemp -d "$jre_dir.partial.XXXXXX")"       # unpack aside, then rename: no half runtimes
    tar -xzf "$bundle/jre.tar.gz" -C "$unpack"
    mv -T "$unpack" "$jre_dir" 2>/dev/null || rm -rf "$unpack" # another run may have won the race
  fi
  java="$jre_dir/jre/bin/java"
elif [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
  java="$JAVA_HOME/bin/java"
else
  java="$(command -v java || true)"
  [[ -n "$java" ]] || die "no jre.tar.gz in the bundle, no JAVA_HOME and no java on PATH"
fi
feature="$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')"
[[ "${feature:-0}" -ge 22 ]] 2>/dev/null || die "$java is Java ${feature:-?}; the FFM API needs 22 or newer"

# Class path: every jar in lib/ plus a test-classes directory if the bundle has one instead of a jar.
classpath="$(ls "$bundle"/lib/*.jar | tr '\n' ':')"
classpath="${classpath%:}"
test_root="$bundle/lib/engram-tests-tests.jar"
if [[ -d "$bundle/test-classes" ]]; then
  classpath="$classpath:$bundle/test-classes"
  test_root="$bundle/test-classes"
fi
[[ -e "$test_root" ]] || die "no test classes (lib/engram-tests-tests.jar or test-classes/) in $bundle"

props=(-Dengram.golden.dir="$bundle/golden" -Dengram.header="$bundle/native/include/engram.h")
if [[ -f "$bundle/build-info.properties" ]]; then
  expect_cuda="$(sed -n 's/^engram.expectCuda=//p' "$bundle/build-info.properties")"
  [[ -n "$expect_cuda" ]] && props+=(-Dengram.expectCuda="$expect_cuda")
fi

select=(--scan-class-path "$test_root")
for arg in "$@"; do
  case "$arg" in
    --select*|-[cmpdfuroie]) select=() ;;
  esac
done

# shellcheck disable=SC2086 # ENGRAM_JAVA_OPTS is a list of JVM options
exec "$java" --enable-native-access=ALL-UNNAMED "${props[@]}" ${ENGRAM_JAVA_OPTS:-} \
  -jar "$launcher" execute --disable-banner --fail-if-no-tests \
  --class-path "$classpath" "${select[@]}" "$@"
