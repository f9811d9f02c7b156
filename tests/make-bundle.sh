#!/usr/bin/env bash
# Builds a self-contained test bundle (default .gpu/) for machines without Maven or network, e.g. the
# GPU machine, where tests/run-without-maven.sh runs it. Needs Maven and a JDK 22+ here (JAVA_HOME).
#
# Usage: tests/make-bundle.sh [bundle-dir]
#
# Bundle layout:
#   lib/*.jar                                   engram jars, their dependencies, engram-tests-tests.jar (test classes)
#   junit-platform-console-standalone-*.jar     the JUnit console launcher (JUnit itself is inside it)
#   golden/                                     tests/golden (engram.golden.dir)
#   native/include/engram.h                     (engram.header)
#   bindings/jextract/*.txt                     the symbol lists the binding tests check against (engram, cudart, cuBLAS)
#   build-info.properties                       engram.expectCuda=true|false, from this build's CMake cache
#   bench/benchmarks.jar                        JMH benchmarks + dev.engram.bench.GpuForwardBench (self-contained)
#   selftest/                                   the C++ kernel self-tests and the libengram.so they link (CUDA builds)
#   variants/conv-mbN/libengram.so              sm_90 builds with -DENGRAM_CONV_MIN_BLOCKS=N, for N in
#                                               $ENGRAM_CONV_VARIANTS (default none; e.g. "5 6 8"): register caps
#                                               of the conv kernels that gpu-session.sh's conv-variants step times
#                                               (timed in run 2 of bench/RESULTS.md; off by default: 5 MiB)
#   jre.tar.gz                                  a jlink'ed runtime (unpacked by run-without-maven.sh); its modules
#                                               can be changed with ENGRAM_JLINK_MODULES (jdk.zipfs is needed:
#                                               the JUnit launcher scans the test jar through the zip file system)
# Only 64 MiB may travel to the GPU machine, the bundle together with the repository's tracked files; the script
# prints both sizes and warns above that.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="${1:-$root/.gpu}"
modules="${ENGRAM_JLINK_MODULES:-java.base,java.logging,java.management,java.xml,jdk.unsupported,jdk.management,jdk.incubator.vector,jdk.zipfs}"
limit_bytes=$((64 * 1024 * 1024))

die() { echo "make-bundle.sh: $*" >&2; exit 1; }

[[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/jlink" ]] \
  || die "JAVA_HOME must point at a JDK 22+ with jlink (e.g. export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64)"
command -v mvn >/dev/null || die "mvn not found on PATH"
export PATH="$JAVA_HOME/bin:$PATH"

junit_platform_version="$(sed -n 's:.*<junit.platform.version>\(.*\)</junit.platform.version>.*:\1:p' "$root/pom.xml" | head -n 1)"
[[ -n "$junit_platform_version" ]] || die "no <junit.platform.version> property in $root/pom.xml"

case "$bundle" in
  "$root"|"/"|"") die "refusing to use '$bundle' as the bundle directory" ;;
esac
rm -rf "$bundle"
mkdir -p "$bundle/lib"
bundle="$(cd "$bundle" && pwd)"

echo "make-bundle.sh: building (mvn install -DskipTests, test classes included)"
(cd "$root" && mvn -B -q -Dstyle.color=never install -DskipTests)
[[ -d "$root/tests/target/test-classes" ]] || die "tests/target/test-classes missing after the build"

echo "make-bundle.sh: copying dependencies of the tests module"
# JUnit comes from the console launcher; keeping it out of lib/ avoids two copies on the class path.
# DJL's tokenizers binding (the CLI's table command; 18 MB of native libraries for four platforms) and JNA
# stay out too, to keep the bundle under 64 MiB: its tests skip there, saying so.
(cd "$root" && mvn -B -q -Dstyle.color=never -pl tests dependency:copy-dependencies \
   -DincludeScope=test -DoutputDirectory="$bundle/lib" \
   -DexcludeGroupIds=org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian,ai.djl,net.java.dev.jna)
for jar in "$root"/bindings/target/engram-bindings-*.jar "$root"/java-api/target/engram-api-*.jar \
           "$root"/cli/target/engram-cli-*.jar; do
  [[ -f "$jar" ]] && cp "$jar" "$bundle/lib/"   # the freshly built ones (same as in ~/.m2 after install)
done
"$JAVA_HOME/bin/jar" --create --file "$bundle/lib/engram-tests-tests.jar" -C "$root/tests/target/test-classes" .

echo "make-bundle.sh: fetching junit-platform-console-standalone $junit_platform_version"
(cd "$root" && mvn -B -q -Dstyle.color=never -N dependency:copy \
   -Dartifact="org.junit.platform:junit-platform-console-standalone:$junit_platform_version" \
   -DoutputDirectory="$bundle")

echo "make-bundle.sh: fixtures, header and build facts"
cp -r "$root/tests/golden" "$bundle/golden"
mkdir -p "$bundle/native/include" "$bundle/bindings/jextract"
cp "$root/native/include/engram.h" "$bundle/native/include/"
cp "$root"/bindings/jextract/*.txt "$bundle/bindings/jextract/"
cache="$root/bindings/target/cmake/CMakeCache.txt"
[[ -f "$cache" ]] || die "no CMake cache at $cache"
expect_cuda=false
if grep -q '^ENGRAM_WITH_CUDA:BOOL=ON' "$cache" \
   && grep -Eq '^(ENGRAM_NVCC|CMAKE_CUDA_COMPILER):[A-Z]+=.+' "$cache" \
   && ! grep -Eq '^(ENGRAM_NVCC|CMAKE_CUDA_COMPILER):[A-Z]+=.*NOTFOUND' "$cache"; then
  expect_cuda=true
fi
{
  echo "# Written by tests/make-bundle.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ) from $(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "engram.expectCuda=$expect_cuda"
} > "$bundle/build-info.properties"

echo "make-bundle.sh: benchmarks and C++ self-tests"
mkdir -p "$bundle/bench"
cp "$root/bench/target/benchmarks.jar" "$bundle/bench/"
if [[ "$expect_cuda" == true ]]; then
  cmake --build "$root/bindings/target/cmake" --target engram_kernel_selftest engram_gate_conv_selftest \
    engram_packed_selftest engram_fp8_gather_selftest engram_fp8_dequantize_selftest -- -j2 >/dev/null
  mkdir -p "$bundle/selftest"
  cp "$root/bindings/target/cmake/engram_kernel_selftest" "$root/bindings/target/cmake/engram_gate_conv_selftest" \
     "$root/bindings/target/cmake/engram_packed_selftest" "$root/bindings/target/cmake/engram_fp8_gather_selftest" \
     "$root/bindings/target/cmake/engram_fp8_dequantize_selftest" \
     "$root/bindings/target/classes/native/linux-x86_64/libengram.so" "$bundle/selftest/"
fi

variants="${ENGRAM_CONV_VARIANTS-}"
if [[ "$expect_cuda" == true && -n "$variants" ]]; then
  for n in $variants; do
    echo "make-bundle.sh: libengram.so variant with -DENGRAM_CONV_MIN_BLOCKS=$n (sm_90)"
    vb="$root/build/conv-variants/mb$n"
    cmake -S "$root" -B "$vb" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90-real \
      -DCMAKE_CUDA_FLAGS="-DENGRAM_CONV_MIN_BLOCKS=$n" -DENGRAM_LIBRARY_OUTPUT_DIR="$vb/lib" >/dev/null
    cmake --build "$vb" --target engram -- -j2 >/dev/null
    mkdir -p "$bundle/variants/conv-mb$n"
    cp "$vb/lib/libengram.so" "$bundle/variants/conv-mb$n/"
  done
fi

echo "make-bundle.sh: jlink runtime ($modules)"
"$JAVA_HOME/bin/jlink" --add-modules "$modules" --strip-debug --no-man-pages --no-header-files \
  --compress=zip-9 --output "$bundle/jre"
tar -czf "$bundle/jre.tar.gz" -C "$bundle" jre
rm -rf "$bundle/jre"

size_bytes="$(du -sb "$bundle" | cut -f1)"
echo "make-bundle.sh: $bundle is $((size_bytes / 1024 / 1024)) MiB:"
(cd "$bundle" && du -sh lib golden jre.tar.gz ./*.jar | sed 's/^/  /')
# The device tool sends the working tree (tracked files) with the bundle: both count towards its limit.
tree_bytes="$(cd "$root" && git ls-files -z 2>/dev/null | du -cb --files0-from=- 2>/dev/null | tail -n 1 | cut -f1)"
tree_bytes="${tree_bytes:-0}"
echo "make-bundle.sh: with the repository's tracked files ($((tree_bytes / 1024 / 1024)) MiB) $(((size_bytes + tree_bytes) / 1024 / 1024)) MiB travel"
if ((size_bytes + tree_bytes > limit_bytes)); then
  echo "make-bundle.sh: warning: bundle + tracked files exceed 64 MiB and may not travel to the GPU machine" >&2
fi
echo "make-bundle.sh: run it with tests/run-without-maven.sh${1:+ --bundle $1} (or everything for a GPU machine: tests/gpu-session.sh)"
