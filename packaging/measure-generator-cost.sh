#!/usr/bin/env bash
# Measures what the SoftmaxGen generator adds to a user's build, per annotated class.
#
#   bash packaging/measure-generator-cost.sh [N...]       (default: 1 50)
#
# Packs the solution, then for each N writes a consumer of the package (from tests/PackageConsumer's csproj template)
# with N [Softmax] classes of varied layouts, and rebuilds it with -p:ReportAnalyzer=true -v:d, which makes the
# compiler print each generator's execution time. Two cases:
#   cold: -p:UseSharedCompilation=false, a new compiler process per build (a CI build): includes loading and JIT-compiling
#         the generator and Scriban;
#   warm: a compiler server of its own (SharedCompilationId), already used once (a developer's repeated builds).
# Prints, per case and N, the median over RUNS rebuilds of the SoftmaxGen generator's time and of CoreCompile's time.
set -euo pipefail
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1 MSBUILDDISABLENODEREUSE=1
root=$(cd "$(dirname "$0")/.." && pwd)
counts=("$@")
[ ${#counts[@]} -eq 0 ] && counts=(1 50)
runs=${RUNS:-5}
work=$(mktemp -d)
server_id="softmaxgen-measure-$$"
cleanup() {
  # The warm case's compiler server is this script's own: stop it by its pipe name, and nothing else.
  for pid in $(pgrep -f "pipename:$server_id" || true); do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$root/Directory.Build.props")
dotnet pack "$root/SoftmaxGen.sln" -c Release -o "$work/feed" --artifacts-path "$work/artifacts" -nodeReuse:false -v:q > "$work/pack.log" \
  || { cat "$work/pack.log"; exit 1; }
machine_packages=${NUGET_PACKAGES:-$HOME/.nuget/packages}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-5s %6s %18s %16s\n' case N "generator (ms)" "CoreCompile (ms)"
for n in "${counts[@]}"; do
  dir="$work/consumer-$n"
  mkdir -p "$dir"
  sed "s/{{SOFTMAXGEN_VERSION}}/$version/" "$root/tests/PackageConsumer/Consumer.csproj.template" > "$dir/Consumer.csproj"
  for f in Directory.Build.props Directory.Build.targets Directory.Packages.props; do echo '<Project />' > "$dir/$f"; done
  cat > "$dir/nuget.config" <<EOF
<configuration>
  <packageSources><clear />
    <add key="feed" value="$work/feed" /><add key="machine" value="$machine_packages" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="feed"><package pattern="SoftmaxGen" /></packageSource>
    <packageSource key="machine"><package pattern="*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
EOF
  {
    echo 'using SoftmaxGen;'
    echo 'namespace Consumer;'
    echo 'public static class Program { public static void Main() { } }'
    types=(float double System.Half)
    for ((i = 0; i < n; i++)); do
      rank=$((2 + i % 7))                       # ranks 2..8
      axes=$((i % rank))                        # one reduced axis, or two when they differ
      second=$(((i / 7) % rank))
      [ "$second" -ne "$axes" ] && axes="$axes, $second"
      echo "[Softmax($rank, $axes, ElementType = typeof(${types[i % 3]}))] public static partial class Layout$i { }"
    done
  } > "$dir/Program.cs"
  NUGET_PACKAGES="$work/packages" dotnet restore "$dir/Consumer.csproj" -v:q > "$work/restore.log" || { cat "$work/restore.log"; exit 1; }

  for case in cold warm; do
    shared=(-p:UseSharedCompilation=false)
    [ "$case" = warm ] && shared=(-p:UseSharedCompilation=true "-p:SharedCompilationId=$server_id")
    gen=() compile=()
    for ((r = 0; r <= runs; r++)); do
      log="$work/build-$n-$case.log"
      NUGET_PACKAGES="$work/packages" dotnet build "$dir/Consumer.csproj" --no-restore --no-incremental -nodeReuse:false -tl:off \
        -p:ReportAnalyzer=true -v:d -clp:PerformanceSummary "${shared[@]}" > "$log" || { tail -40 "$log"; exit 1; }
      [ "$r" -eq 0 ] && continue               # the first build warms the server (and the disk cache)
      gen+=("$(awk '$NF == "SoftmaxGen.Generator.SoftmaxGenerator" { print $1 * 1000; exit }' "$log")")
      compile+=("$(awk '$2 == "ms" && $3 == "CoreCompile" { print $1; exit }' "$log")")
    done
    generated=$(find "$dir/obj" -path '*generated/SoftmaxGen.Generator*' -name '*.g.cs' | wc -l)
    [ "$generated" -eq "$n" ] || { echo "expected $n generated files, found $generated"; exit 1; }
    printf '%-5s %6d %18s %16s\n' "$case" "$n" "$(printf '%s\n' "${gen[@]}" | median)" "$(printf '%s\n' "${compile[@]}" | median)"
  done
done
