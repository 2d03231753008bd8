#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The B-tree case, measured: N rows inserted into identical tables whose primary
# key is bigserial, an idforge Snowflake bigint (idforge_next()), UUIDv7
# (idforge_uuidv7()), ULID (idforge_ulid(), as uuid) and UUIDv4
# (gen_random_uuid()), in batches from several clients, on a throwaway
# PostgreSQL 15 cluster. Then, per key type: insert rate over the run, index
# size, leaf density, WAL written, point lookups and range scans; and the per-ID
# cost of each generator in the same run. Results go to docs/benchmarks.md by
# hand; the chart (insert rate against rows inserted) is drawn with gnuplot.
#
#   bash bench/postgres_btree.sh [N] [--out DIR]    Default: N = 1000000, DIR = build/bench-postgres
#
# Needs a release build with the extension (cmake --preset release && cmake
# --build --preset release), and `bash scripts/deps.sh --tests` (postgresql-15,
# gnuplot). It installs the extension into PostgreSQL's directories and removes
# it when done; run it as root (the server runs as the postgres user) or as a
# user who may write there.
set -euo pipefail
cd "$(dirname "$0")/.."

rows=1000000
out=build/bench-postgres
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    [0-9]*) rows="$1"; shift ;;
    *) echo "usage: bash bench/postgres_btree.sh [N] [--out DIR]" >&2; exit 2 ;;
  esac
done
clients=4
batch=1000
shared_buffers=128MB
pg_bin=$(/usr/lib/postgresql/15/bin/pg_config --bindir)
lib_dir=$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)
ext_dir=$(/usr/lib/postgresql/15/bin/pg_config --sharedir)/extension
for f in build/release/idforge build/release/postgres/idforge.so; do
  [ -e "$f" ] || { echo "missing $f: build the release preset first" >&2; exit 1; }
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/idforge-btree-XXXXXX)
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres "$work"
  as_pg=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
installed=()
cleanup() {
  [ -f "$work/data/postmaster.pid" ] && kill -INT "$(head -1 "$work/data/postmaster.pid")" 2>/dev/null && sleep 2
  for f in "${installed[@]}"; do rm -f "$f"; done
  rm -rf "$work"
}
trap cleanup EXIT
extension_files=(postgres/idforge.control postgres/idforge--*.sql)
for f in "$lib_dir/idforge.so" "${extension_files[@]/#postgres/$ext_dir}"; do
  [ -e "$f" ] && { echo "$f exists already; not replacing an installed extension" >&2; exit 1; }
done
cp build/release/postgres/idforge.so "$lib_dir/" && installed+=("$lib_dir/idforge.so")
for f in "${extension_files[@]}"; do
  cp "$f" "$ext_dir/" && installed+=("$ext_dir/${f#postgres/}")
done

"${as_pg[@]}" "$pg_bin/initdb" -D "$work/data" -U postgres -A trust --no-instructions >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
listen_addresses = ''
port = $port
unix_socket_directories = '$work'
shared_buffers = $shared_buffers
max_wal_size = 16GB
checkpoint_timeout = 30min
shared_preload_libraries = 'idforge'
idforge.layout = 'twitter'
idforge.node = 1
EOF
"${as_pg[@]}" "$pg_bin/postgres" -D "$work/data" >"$work/server.log" 2>&1 &
for _ in $(seq 100); do "$pg_bin/pg_isready" -q -U postgres -h "$work" -p "$port" && break; sleep 0.1; done
psql=(psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$work" -p "$port" -U postgres -d postgres)
pgbench=("$pg_bin/pgbench" -n -h "$work" -p "$port" -U postgres -d postgres)
"${psql[@]}" -c "CREATE EXTENSION idforge; CREATE EXTENSION pgstattuple;"
build/release/idforge sql --layout twitter --node 2 --function sql_id | "${psql[@]}" >/dev/null
"${psql[@]}" -f tests/testdata/instagram_next_id.sql >/dev/null

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
{
  echo "# bench/postgres_btree.sh $rows: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# $(nproc) cores ($cpu), PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}'), shared_buffers $shared_buffers,"
  echo "# $clients clients inserting batches of $batch rows"
} | tee "$out/results.txt"

# Per-ID cost, in one session each, in the same run.
echo "| generator | IDs | ns per ID |" | tee -a "$out/results.txt"
echo "|---|---:|---:|" | tee -a "$out/results.txt"
"${psql[@]}" -c "CREATE SEQUENCE plain_seq;"
for spec in "idforge_next():2000000" "idforge_uuidv7():2000000" "sql_id():200000" "insta5.next_id():200000" \
            "nextval('plain_seq'):2000000" "gen_random_uuid():2000000"; do
  fn=${spec%:*}
  n=${spec##*:}
  "${psql[@]}" -c "SELECT count($fn) FROM generate_series(1, 1000);" >/dev/null  # warm
  ms=$("${psql[@]}" -c '\timing on' -c "SELECT count($fn) FROM generate_series(1, $n);" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
  printf '| `%s` | %d | %.0f |\n' "$fn" "$n" "$(echo "$ms * 1000000 / $n" | bc -l)" | tee -a "$out/results.txt"
done

# Eight sessions at once on one node: what serialising on the node costs.
echo | tee -a "$out/results.txt"
echo "| generator, 8 sessions at once | IDs | seconds | IDs/s |" | tee -a "$out/results.txt"
echo "|---|---:|---:|---:|" | tee -a "$out/results.txt"
for spec in "idforge_next():500000" "sql_id():25000" "insta5.next_id():25000" "nextval('plain_seq'):500000"; do
  fn=${spec%:*}
  n=${spec##*:}
  start=$(date +%s.%N)
  sessions=()
  for _ in 1 2 3 4 5 6 7 8; do
    "${psql[@]}" -c "SELECT count($fn) FROM generate_series(1, $n);" >/dev/null &
    sessions+=($!)
  done
  wait "${sessions[@]}"
  seconds=$(echo "$(date +%s.%N) - $start" | bc -l)
  printf '| `%s` | %d | %.2f | %.0f |\n' "$fn" $((8 * n)) "$seconds" "$(echo "8 * $n / $seconds" | bc -l)" |
    tee -a "$out/results.txt"
done

kinds=(bigserial snowflake uuidv7 ulid uuidv4)
declare -A key_type=([bigserial]="bigserial" [snowflake]="bigint DEFAULT idforge_next()"
  [uuidv7]="uuid DEFAULT idforge_uuidv7()" [ulid]="uuid DEFAULT idforge_ulid()" [uuidv4]="uuid DEFAULT gen_random_uuid()")
per_client=$((rows / clients / batch))
[ "$per_client" -ge 1 ] || { echo "N must be at least $((clients * batch))" >&2; exit 2; }
echo | tee -a "$out/results.txt"
echo "| key | rows | seconds | rows/s | rows/s, first 10% | rows/s, last 10% | index MB | leaf density % | WAL MB | lookups/s | range scans/s |" | tee -a "$out/results.txt"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" | tee -a "$out/results.txt"
for kind in "${kinds[@]}"; do
  table="t_$kind"
  "${psql[@]}" -c "CREATE TABLE $table (id ${key_type[$kind]} PRIMARY KEY, payload text NOT NULL); CHECKPOINT;"
  printf 'INSERT INTO %s (payload) SELECT md5(g::text) FROM generate_series(1, %d) g;\n' "$table" "$batch" >"$work/insert.sql"
  wal0=$("${psql[@]}" -c "SELECT pg_current_wal_lsn();")
  start=$(date +%s.%N)
  "${pgbench[@]}" -c "$clients" -j "$clients" -t "$per_client" -P 1 -f "$work/insert.sql" >"$work/load-$kind.log" 2>&1
  seconds=$(echo "$(date +%s.%N) - $start" | bc -l)
  wal_mb=$("${psql[@]}" -c "SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$wal0') / 1048576.0);")
  # The rate over the run: pgbench's progress lines, one a second, as rows inserted and rows/s.
  sed -n 's/^progress: \([0-9.]*\) s, \([0-9.]*\) tps.*/\1 \2/p' "$work/load-$kind.log" |
    awk -v b="$batch" '{ rate = $2 * b; total += rate; print total, rate }' >"$out/rate-$kind.dat"
  read -r first last < <(awk 'NR == FNR { n++; next } { i++; if (i <= n / 10) { f += $2; fc++ } if (i > n - n / 10) { l += $2; lc++ } }
    END { printf "%.0f %.0f\n", fc ? f / fc : 0, lc ? l / lc : 0 }' "$out/rate-$kind.dat" "$out/rate-$kind.dat")
  "${psql[@]}" -c "VACUUM ANALYZE $table;"
  read -r count index_mb density < <("${psql[@]}" -F ' ' -c "SELECT (SELECT count(*) FROM $table),
      round(pg_relation_size('${table}_pkey') / 1048576.0), round(avg_leaf_density::numeric, 1)
      FROM pgstatindex('${table}_pkey');")
  # Keys to look up, and ranges of 100 consecutive keys, sampled across the index.
  step=$((count / 10000 > 1 ? count / 10000 : 1))
  "${psql[@]}" -c "CREATE TABLE keys_$kind AS SELECT row_number() OVER () AS n, id, hi FROM
      (SELECT id, lead(id, 100) OVER (ORDER BY id) AS hi, row_number() OVER (ORDER BY id) AS r FROM $table) s
      WHERE r % $step = 0 AND hi IS NOT NULL; CREATE UNIQUE INDEX ON keys_$kind (n); ANALYZE keys_$kind;"
  keys=$("${psql[@]}" -c "SELECT count(*) FROM keys_$kind;")
  printf '\\set n random(1, %d)\nSELECT payload FROM %s WHERE id = (SELECT id FROM keys_%s WHERE n = :n);\n' \
    "$keys" "$table" "$kind" >"$work/lookup.sql"
  printf '\\set n random(1, %d)\nSELECT count(payload) FROM %s, keys_%s k WHERE k.n = :n AND %s.id BETWEEN k.id AND k.hi;\n' \
    "$keys" "$table" "$kind" "$table" >"$work/range.sql"
  lookups=$("${pgbench[@]}" -c "$clients" -j "$clients" -T 10 -f "$work/lookup.sql" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  ranges=$("${pgbench[@]}" -c "$clients" -j "$clients" -T 10 -f "$work/range.sql" 2>&1 | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
  printf '| %s | %d | %.1f | %.0f | %d | %d | %d | %s | %d | %.0f | %.0f |\n' "$kind" "$count" "$seconds" \
    "$(echo "$count / $seconds" | bc -l)" "$first" "$last" "$index_mb" "$density" "$wal_mb" "$lookups" "$ranges" |
    tee -a "$out/results.txt"
  "${psql[@]}" -c "DROP TABLE $table, keys_$kind; CHECKPOINT;"
done

if ! [ -s "$out/rate-${kinds[0]}.dat" ]; then
  echo "no chart: the loads took under a second each (pgbench reports once a second); give a larger N"
  exit 0
fi
plot="plot "
for kind in "${kinds[@]}"; do plot+="'$out/rate-$kind.dat' using (\$1/1e6):2 with lines lw 2 title '$kind', "; done
gnuplot <<EOF
set terminal pngcairo size 900,520 font 'sans,10' noenhanced
set output '$out/postgres_btree.png'
set title 'Insert rate as the table grows ($rows rows, $clients clients, batches of $batch, shared_buffers $shared_buffers)'
set xlabel 'rows inserted (millions)'
set ylabel 'rows/s'
set yrange [0:*]
set grid
set key outside right
${plot%, }
EOF
echo "chart: $out/postgres_btree.png; table: $out/results.txt"
