package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// scale is how big each data set is built for one -size.
type scale struct {
	pgbenchScale int   // pgbench -i -s: 100 000 pgbench_accounts rows per unit, ~15 MB
	eventRows    int64 // rows of bench_events, ~830 B each on disk with indexes
	hexRows      int64 // rows of bench_hex, ~580 B each on disk with its index
}

// scales maps -size to the data set sizes. small is for quick checks (the whole run in a few
// minutes); default (~2.6 GB) is the size the goals are set for, medium (~0.7 GB) a second
// point for peak RSS. pgbench's tables compress almost to nothing (sequential numbers and blank
// filler), so bench_events carries the data set's real compression work: with these
// proportions the whole pg_dump -Fc -Z0 archive compresses about 5x at zstd level 1.
var scales = map[string]scale{
	"small":   {pgbenchScale: 3, eventRows: 45_000, hexRows: 100_000},
	"medium":  {pgbenchScale: 25, eventRows: 400_000, hexRows: 600_000},
	"default": {pgbenchScale: 100, eventRows: 1_400_000, hexRows: 1_200_000},
}

// dataSet describes one database to benchmark on.
type dataSet struct {
	name  string // "bench" or "hard"; also the database name
	about string // one line for the report
	build func(ctx context.Context, b *builder) error
}

func dataSetsFor(which string, sc scale) ([]dataSet, error) {
	bench := dataSet{
		name: "bench",
		about: fmt.Sprintf("`pgbench -i -s %d` plus bench_events, %d wide rows (short texts from small vocabularies, "+
			"~280 B of words, a uuid, an address, a nested jsonb)", sc.pgbenchScale, sc.eventRows),
		build: func(ctx context.Context, b *builder) error { return b.buildBench(ctx, sc) },
	}
	hard := dataSet{
		name:  "hard",
		about: fmt.Sprintf("bench_hex, %d rows of 512 random hex digits (compresses poorly)", sc.hexRows),
		build: func(ctx context.Context, b *builder) error { return b.buildHard(ctx, sc) },
	}
	switch which {
	case "bench":
		return []dataSet{bench}, nil
	case "hard":
		return []dataSet{hard}, nil
	case "all":
		return []dataSet{bench, hard}, nil
	}
	return nil, fmt.Errorf("-data %q: want bench, hard or all", which)
}

// builder loads data into the cluster. SQL runs over pgx; pgbench connects over the unix
// socket, where the superuser needs no password, so none reaches its environment or argv.
type builder struct {
	cluster *pgtest.Cluster
	db      string
	log     *slog.Logger
}

// batchRows is how many rows one INSERT generates: progress shows, and a cancel lands soon.
const batchRows = 250_000

func (b *builder) buildBench(ctx context.Context, sc scale) error {
	began := time.Now()
	env := append(baseEnv(os.Environ()), "PGHOST="+b.cluster.SocketDir, "PGPORT="+fmt.Sprint(b.cluster.Port),
		"PGUSER="+b.cluster.User, "PGDATABASE="+b.db)
	pgbench := filepath.Join(b.cluster.BinDir, "pgbench")
	if _, err := os.Stat(pgbench); err != nil {
		pgbench = "pgbench"
	}
	// Server-side generation (G) is quicker than streaming rows from the client.
	if _, err := measure(ctx, env, "", pgbench, "-i", "-s", fmt.Sprint(sc.pgbenchScale), "-I", "dtGvp", "-q", b.db); err != nil {
		return fmt.Errorf("pgbench -i: %w", err)
	}
	b.log.Info("pgbench tables built", "scale", sc.pgbenchScale, "took", time.Since(began).Round(time.Millisecond))
	if err := b.cluster.Exec(ctx, b.db, eventsTable); err != nil {
		return fmt.Errorf("create bench_events: %w", err)
	}
	if err := b.insertBatches(ctx, "bench_events", eventsInsert, sc.eventRows); err != nil {
		return err
	}
	return b.finish(ctx)
}

func (b *builder) buildHard(ctx context.Context, sc scale) error {
	if err := b.cluster.Exec(ctx, b.db, "CREATE TABLE bench_hex (id bigint PRIMARY KEY, payload text NOT NULL)"); err != nil {
		return fmt.Errorf("create bench_hex: %w", err)
	}
	// 16 md5 digests: 512 hex digits, 4 bits of entropy in every 8, and below the TOAST
	// threshold, so the server stores them as they are.
	parts := make([]string, 16)
	for i := range parts {
		parts[i] = "md5(random()::text)"
	}
	insert := "INSERT INTO bench_hex SELECT i, " + strings.Join(parts, " || ") +
		" FROM generate_series($1::bigint, $2::bigint) AS i"
	if err := b.insertBatches(ctx, "bench_hex", insert, sc.hexRows); err != nil {
		return err
	}
	return b.finish(ctx)
}

// insertBatches runs insert (taking the first and last id as $1 and $2) for rows 1..total.
func (b *builder) insertBatches(ctx context.Context, table, insert string, total int64) error {
	began := time.Now()
	for lo := int64(1); lo <= total; lo += batchRows {
		hi := min(lo+batchRows-1, total)
		if err := b.cluster.Exec(ctx, b.db, insert, lo, hi); err != nil {
			return fmt.Errorf("fill %s rows %d-%d: %w", table, lo, hi, err)
		}
		b.log.Info("filling", "table", table, "rows", hi, "of", total)
	}
	b.log.Info("table built", "table", table, "rows", total, "took", time.Since(began).Round(time.Millisecond))
	return nil
}

// finish leaves the database as a long-lived one would be: statistics current, visibility
// map set (no hint-bit writes during the first dump), and everything checkpointed.
func (b *builder) finish(ctx context.Context) error {
	for _, sql := range []string{"VACUUM (ANALYZE, FREEZE)", "CHECKPOINT"} {
		if err := b.cluster.Exec(ctx, b.db, sql); err != nil {
			return fmt.Errorf("%s: %w", sql, err)
		}
	}
	return nil
}

const eventsTable = `CREATE TABLE bench_events (
    id         bigint PRIMARY KEY,
    trace_id   uuid NOT NULL,
    created_at timestamptz NOT NULL,
    account    text NOT NULL,
    kind       text NOT NULL,
    status     text NOT NULL,
    region     text NOT NULL,
    client_ip  inet NOT NULL,
    note       text NOT NULL,
    attrs      jsonb NOT NULL
);
CREATE INDEX bench_events_account ON bench_events (account, created_at);`

// eventsInsert generates rows $1..$2 of bench_events. The note is 30-60 words, half drawn from
// common words and half made of two random syllables, which zstd -1 compresses about 2.4x, as
// it does English prose (the subquery refers to the outer row, so it runs per row). The jsonb
// mixes fixed keys with random numbers, flags, words and a session token; the uuid and the
// address are as random as real ones.
const eventsInsert = `INSERT INTO bench_events
SELECT i,
       gen_random_uuid(),
       timestamptz '2024-01-01 00:00:00+00' + i * interval '7 seconds' + random() * interval '6 seconds',
       'acct-' || lpad(floor(random() * 40000)::int::text, 6, '0'),
       (ARRAY['page_view','click','signup','login','logout','purchase','refund','search','share','comment'])[1 + floor(random() * 10)::int],
       (ARRAY['ok','ok','ok','ok','ok','pending','failed','retried'])[1 + floor(random() * 8)::int],
       (ARRAY['eu-west-1','eu-central-1','us-east-1','us-east-2','us-west-2','ap-south-1','ap-northeast-1','sa-east-1'])[1 + floor(random() * 8)::int],
       ('10.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int || '.' || floor(random() * 256)::int)::inet,
       (SELECT string_agg(w.word, ' ')
          FROM (SELECT CASE WHEN random() < 0.5 THEN v.words[1 + floor(random() * array_length(v.words, 1))::int]
                            ELSE v.syllables[1 + floor(random() * array_length(v.syllables, 1))::int] ||
                                 v.syllables[1 + floor(random() * array_length(v.syllables, 1))::int]
                       END AS word
                  FROM generate_series(1, 30 + floor(random() * 31)::int + 0 * i)) AS w),
       jsonb_build_object(
           'user', jsonb_build_object('id', floor(random() * 1000000)::int,
                                      'plan', (ARRAY['free','free','pro','team','enterprise'])[1 + floor(random() * 5)::int],
                                      'beta', random() < 0.1),
           'amount', round((random() * 500)::numeric, 2),
           'currency', (ARRAY['EUR','USD','USD','GBP','JPY'])[1 + floor(random() * 5)::int],
           'items', jsonb_build_array(floor(random() * 5000)::int, floor(random() * 5000)::int, floor(random() * 5000)::int),
           'tags', jsonb_build_array(v.words[1 + floor(random() * array_length(v.words, 1))::int],
                                     v.words[1 + floor(random() * array_length(v.words, 1))::int]),
           'client', jsonb_build_object('version', '3.' || floor(random() * 20)::int || '.' || floor(random() * 10)::int,
                                        'os', (ARRAY['linux','macos','windows','ios','android'])[1 + floor(random() * 5)::int]),
           'session', md5(random()::text),
           'score', random(),
           'latency_ms', round((random() * random() * 2000)::numeric, 1))
FROM generate_series($1::bigint, $2::bigint) AS i,
     (SELECT ARRAY['the','of','and','to','in','is','was','for','on','that','with','as','it','by','at',
                   'from','this','be','are','or','an','not','have','has','had','but','were','which','their',
                   'one','all','we','can','will','more','been','would','when','there','new','about','also',
                   'after','time','into','other','first','some','could','than','two','then','only','its',
                   'over','most','these','made','may','years','like','over','under','order','account',
                   'customer','payment','invoice','delivery','shipping','address','product','service',
                   'request','response','update','report','status','error','warning','network','server',
                   'client','session','user','group','team','project','release','version','feature',
                   'issue','review','change','record','table','index','query','result','value','number',
                   'price','total','amount','balance','credit','debit','refund','discount','coupon','cart',
                   'checkout','login','logout','email','phone','message','notification','support','ticket',
                   'priority','urgent','normal','low','high','daily','weekly','monthly','yearly','summary',
                   'detail','history','event','action','import','export','backup','restore','snapshot',
                   'schedule','retry','timeout','limit','quota','region','zone','cluster','node','disk',
                   'memory','cache','queue','worker','job','task','pipeline','build','deploy','test',
                   'please','thanks','hello','sorry','again','soon','today','tomorrow','yesterday','week',
                   'morning','evening','night','because','however','although','while','before','during',
                   'without','within','between','against','around','quickly','slowly','really','very'] AS words,
             ARRAY['ka','to','ri','mel','san','dor','vi','lan','po','ter','nu','gas','bel','fi','ro','mun',
                   'cha','ste','qui','pra','lo','den','ha','zu','wen','tri','co','mar','sel','bo','ne','pil',
                   'dra','gu','fen','li','ost','ya','brem','tu'] AS syllables) AS v`
