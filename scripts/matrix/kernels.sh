#!/usr/bin/env bash
# Fetches Debian kernel packages for the kernel matrix and unpacks them into a cache.
#
#   kernels.sh CACHE_DIR SERIES...
#
# SERIES names a row of the table below (5.10, 6.1, 6.12, newest). For each one, prints a line
#   <series> <kernel release> <package version> <vmlinuz path> <modules dir>
# on stdout; progress goes to stderr. Packages are taken from the Debian mirror this machine's
# apt sources already use (read from /etc/apt/sources.list.d and /etc/apt/sources.list at run
# time; no host name is written here), and the newest version of each series in its suite wins.
# Downloads are cached by file name, so a second run touches the network only for the indexes.
set -euo pipefail

cache=${1:?usage: kernels.sh CACHE_DIR SERIES...}
shift
mkdir -p "$cache"

# series  suite     how the kernel is packaged
#   image:  linux-image-<major.minor>.*-amd64-unsigned holds vmlinuz and the modules (up to trixie)
#   binary: sid splits the kernel into linux-binary-<release> (vmlinuz) and linux-modules-<release>;
#           its linux-image-* is a metapackage. "newest" takes the highest release there.
series_table() {
  cat <<'EOF'
5.10   bullseye image
6.1    bookworm image
6.12   trixie   image
newest sid      binary
EOF
}

log() { echo "kernels: $*" >&2; }

# The Debian archive URI of the system's own apt sources: the first "main" source that is not the
# security archive, from deb822 .sources files or one-line .list files.
debian_mirror() {
  local uri
  uri=$(
    {
      for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        # One stanza per paragraph: print the URI of stanzas that list a suite and "main".
        awk 'BEGIN { RS = ""; FS = "\n" }
             {
               uris = ""; suites = ""; comps = ""
               for (i = 1; i <= NF; i++) {
                 if ($i ~ /^URIs:/) uris = substr($i, 6)
                 if ($i ~ /^Suites:/) suites = substr($i, 8)
                 if ($i ~ /^Components:/) comps = substr($i, 12)
               }
               if (comps ~ /(^| )main( |$)/ && suites !~ /security/ && uris != "") {
                 split(uris, u, " "); for (k in u) if (u[k] != "") { print u[k]; break }
               }
             }' "$f"
      done
      for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk '$1 == "deb" && $0 !~ /security/ && / main( |$)/ {
               for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; break }
             }' "$f"
      done
    } | grep -E '/debian/?$' | head -n 1
  )
  [ -n "$uri" ] || { log "no Debian archive found in /etc/apt/sources.list{,.d}"; return 1; }
  echo "${uri%/}"
}

# The suite's package index, refreshed once per run; a cached copy is used when the mirror fails.
packages_index() {
  local mirror=$1 suite=$2 out="$cache/Packages-$2"
  if curl -fsS --retry 3 -o "$out.xz.new" "$mirror/dists/$suite/main/binary-amd64/Packages.xz"; then
    xz -dc "$out.xz.new" >"$out.new" && mv "$out.new" "$out" && rm -f "$out.xz.new"
  elif [ -s "$out" ]; then
    log "fetching the $suite index failed; using the cached copy"
  else
    log "cannot fetch $mirror/dists/$suite/main/binary-amd64/Packages.xz"
    return 1
  fi
  echo "$out"
}

# "<package> <version> <filename>" for every package whose name matches an extended regex.
candidates() {
  local index=$1 regex=$2
  awk -v re="$regex" '
    /^Package: / { p = $2 } /^Version: / { v = $2 } /^Filename: / { f = $2 }
    /^$/ { if (p ~ re) print p, v, f; p = v = f = "" }
    END { if (p ~ re) print p, v, f }' "$index"
}

newest() {  # the highest version among candidates(), with dpkg's ordering as the judge
  local best="" best_version="" package version filename
  while read -r package version filename; do
    if [ -z "$best" ] || dpkg --compare-versions "$version" gt "$best_version"; then
      best="$package $version $filename"
      best_version=$version
    fi
  done
  echo "$best"
}

# Downloads and unpacks one .deb into the cache (once); prints the unpacked directory.
unpack() {
  local mirror=$1 filename=$2 deb dir
  deb="$cache/debs/$(basename "$filename")"
  dir="$cache/unpacked/$(basename "$filename" .deb)"
  if [ ! -d "$dir" ]; then
    mkdir -p "$cache/debs" "$cache/unpacked"
    if [ ! -s "$deb" ]; then
      log "downloading $(basename "$filename")"
      curl -fsS --retry 3 -o "$deb.part" "$mirror/$filename"
      mv "$deb.part" "$deb"
    fi
    rm -rf "$dir.part"
    dpkg-deb -x "$deb" "$dir.part"
    mv "$dir.part" "$dir"
  fi
  echo "$dir"
}

mirror=$(debian_mirror)
log "Debian mirror from the apt sources: $mirror"

for want in "$@"; do
  row=$(series_table | awk -v s="$want" '$1 == s')
  [ -n "$row" ] || { log "unknown series '$want' (known: $(series_table | awk '{print $1}' | xargs))"; exit 2; }
  read -r name suite layout <<<"$row"
  index=$(packages_index "$mirror" "$suite")
  if [ "$layout" = image ]; then
    pick=$(candidates "$index" "^linux-image-${name//./\\.}\\.[0-9]+-[0-9]+-amd64-unsigned\$|^linux-image-${name//./\\.}\\.[0-9]+\\+deb[0-9]+-amd64-unsigned\$" | newest)
    [ -n "$pick" ] || { log "no linux-image-$name.*-amd64-unsigned in $suite"; exit 1; }
    read -r package version filename <<<"$pick"
    release=${package#linux-image-}
    release=${release%-unsigned}
    image_dir=$(unpack "$mirror" "$filename")
    modules_dir=$image_dir
  else
    pick=$(candidates "$index" '^linux-binary-[0-9][0-9.]*(\+deb[0-9]+)?-amd64$' | newest)
    [ -n "$pick" ] || { log "no linux-binary-*-amd64 in $suite"; exit 1; }
    read -r package version filename <<<"$pick"
    release=${package#linux-binary-}
    image_dir=$(unpack "$mirror" "$filename")
    modules_pick=$(candidates "$index" "^linux-modules-${release//+/\\+}\$" | newest)
    [ -n "$modules_pick" ] || { log "no linux-modules-$release in $suite"; exit 1; }
    modules_dir=$(unpack "$mirror" "$(echo "$modules_pick" | awk '{print $3}')")
  fi
  vmlinuz=$(find "$image_dir" -name 'vmlinuz*' -type f | head -n 1)
  modules=$(find "$modules_dir" -maxdepth 4 -type d -path "*/lib/modules/$release" | head -n 1)
  [ -n "$vmlinuz" ] && [ -n "$modules" ] || { log "$package: no vmlinuz or modules for $release"; exit 1; }
  log "$name: $release ($version)"
  echo "$name $release $version $vmlinuz $modules"
done
