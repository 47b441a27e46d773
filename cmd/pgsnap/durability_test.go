package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pgsnap/pgsnap/internal/invariants"
	"github.com/pgsnap/pgsnap/internal/pgtest"
)

// T4: the durability order of a snapshot and of retention, read from a syscall trace of the real
// binary. A power cut may keep any prefix of what was made durable, so each step that the
// next relies on must be durable (fsynced) before the next step starts:
//
//	intent renamed, dir fsynced < data temp created
//	fsync(data temp) < rename(data) < fsync(dir) < manifest temp created, renamed < fsync(dir)
//	< intent removed, and any retention unlink
//	retention: unlink(manifest) < fsync(dir) < unlink(data)
//
// localstore commits with renameat2(RENAME_NOREPLACE), or link+unlink where the file system
// lacks the flag: both are read as the commit.
func TestDurabilityOrderTrace(t *testing.T) {
	invariants.Fault(t, "T4")
	strace := requireTool(t, "strace")
	c := pgtest.Get(t)
	db := c.CreateDB(t)
	if err := c.Exec(t.Context(), db, "CREATE TABLE t AS SELECT g AS id, md5(g::text) AS payload FROM generate_series(1, 5000) g"); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snapshots")
	env := map[string]string{"DATABASE_URL": c.URL(db), "SNAPSHOT_DIR": dir, "SNAPSHOT_RETENTION": "2"}

	const snapshots = 5 // the third and later also delete the oldest (retention 2)
	violations, runs, unlinks := 0, 0, 0
	commitCalls := map[string]int{} // how localstore gave manifests their names
	for i := range snapshots {
		waitNextSecond()
		events, stdout := traced(t, strace, env, "snapshot")
		name := lastLine(stdout)
		for _, v := range snapshotOrder(events, dir, name) {
			t.Errorf("snapshot %d (%s): %s", i+1, name, v)
			violations++
		}
		deleted := 0
		for _, v := range pruneOrder(events, dir, &deleted) {
			t.Errorf("snapshot %d (%s), retention: %s", i+1, name, v)
			violations++
		}
		if want := min(1, i/2); deleted != want {
			t.Errorf("snapshot %d with retention 2: deleted %d snapshots, want %d", i+1, deleted, want)
		}
		unlinks += len(retentionUnlinks(events, dir, name))
		for _, e := range events {
			if e.committedAs(filepath.Join(dir, name+".json")) {
				commitCalls[e.call]++
			}
		}
		runs++
	}
	env["SNAPSHOT_RETENTION"] = "1"
	events, _ := traced(t, strace, env, "prune")
	deleted := 0
	for _, v := range pruneOrder(events, dir, &deleted) {
		t.Errorf("prune: %s", v)
		violations++
	}
	if deleted != 1 {
		t.Errorf("prune with retention 1 over 2 snapshots deleted %d, want 1", deleted)
	}
	runs++
	invariants.Report(t, "T4 order violations %d in %d runs (%d snapshots, %d with retention, 1 prune; %d retention unlinks checked; commits by %v)",
		violations, runs, snapshots, snapshots-2, unlinks, commitCalls)
	invariants.AssertStoreInvariants(t, dir, invariants.Options{Cluster: c, Database: db, DirCreated: true, MinComplete: 1})
}

// requireTool returns the path of a tool the test needs; without it the test skips, or fails
// with CI=true (CI installs it: scripts/install-tools.sh).
func requireTool(t *testing.T, tool string) string {
	t.Helper()
	p, err := exec.LookPath(tool)
	if err == nil {
		return p
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatalf("%s is missing and CI=true runs every fault test: scripts/install-tools.sh installs it", tool)
	}
	t.Skipf("%s is missing (scripts/install-tools.sh installs it)", tool)
	return ""
}

// event is one traced system call; start and end are its places in the trace (a call another
// thread interrupted is printed in two lines).
type event struct {
	call, args string
	start, end int
}

var (
	callLine    = regexp.MustCompile(`^(\d+) +([a-z0-9_]+)\((.*?)(\) += (-?\d+).*| <unfinished \.\.\.>)$`)
	resumedLine = regexp.MustCompile(`^(\d+) +<\.\.\. ([a-z0-9_]+) resumed>(.*?)\) += (-?\d+)`)
	quoted      = regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
	fdPath      = regexp.MustCompile(`^\d+<(.*)>$`)
)

// traced runs pgsnap under strace and returns the successful file system calls, in order, and
// pgsnap's standard output.
func traced(t *testing.T, strace string, env map[string]string, args ...string) ([]event, string) {
	t.Helper()
	log := filepath.Join(t.TempDir(), "strace.log")
	cmd, stdout, stderr := pgsnapCmd(t, env, args...)
	cmd.Args = append([]string{strace, "-f", "-y", "-qq", "--seccomp-bpf", "-s", "4096", "-o", log,
		"-e", "trace=openat,fsync,fdatasync,rename,renameat,renameat2,link,linkat,unlink,unlinkat", "--", pgsnapBin}, args...)
	cmd.Path = strace
	if err := cmd.Run(); err != nil {
		t.Fatalf("strace pgsnap %v: %v\n%s", args, err, stderr)
	}
	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var events []event
	pending := map[string]*event{} // by thread: a call waiting for its resumption
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for i := 0; sc.Scan(); i++ {
		line := sc.Text()
		if m := callLine.FindStringSubmatch(line); m != nil {
			e := &event{call: m[2], args: m[3], start: i, end: i}
			if strings.HasSuffix(m[4], "<unfinished ...>") {
				pending[m[1]] = e
			} else if ret, _ := strconv.Atoi(m[5]); ret >= 0 {
				events = append(events, *e)
			}
		} else if m := resumedLine.FindStringSubmatch(line); m != nil {
			if e := pending[m[1]]; e != nil && e.call == m[2] {
				delete(pending, m[1])
				e.args += m[3]
				e.end = i
				if ret, _ := strconv.Atoi(m[4]); ret >= 0 {
					events = append(events, *e)
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return events, stdout.String()
}

// fsyncOf is the path of the file descriptor an fsync or fdatasync names ("" for other calls).
func (e event) fsyncOf() string {
	if e.call != "fsync" && e.call != "fdatasync" {
		return ""
	}
	if m := fdPath.FindStringSubmatch(e.args); m != nil {
		return m[1]
	}
	return ""
}

// paths are the quoted path arguments of a call.
func (e event) paths() []string {
	var out []string
	for _, m := range quoted.FindAllStringSubmatch(e.args, -1) {
		out = append(out, m[1])
	}
	return out
}

// committedAs reports whether e gives its final name to path (rename, or link of the
// link+unlink commit).
func (e event) committedAs(path string) bool {
	switch e.call {
	case "rename", "renameat", "renameat2", "link", "linkat":
		p := e.paths()
		return len(p) == 2 && p[1] == path
	}
	return false
}

func (e event) created(path string) bool {
	p := e.paths()
	return e.call == "openat" && strings.Contains(e.args, "O_CREAT") && len(p) == 1 && p[0] == path
}

func (e event) unlinked(path string) bool {
	p := e.paths()
	return (e.call == "unlink" || e.call == "unlinkat") && len(p) == 1 && p[0] == path
}

func isTempOf(path, dir, key string) bool {
	return strings.HasPrefix(path, filepath.Join(dir, ".pgsnap-tmp."+key+"."))
}

func first(events []event, after int, match func(event) bool) (event, bool) {
	for _, e := range events {
		if e.start > after && match(e) {
			return e, true
		}
	}
	return event{}, false
}

// commitSteps finds the commit of key in dir: its temporary file's creation and last fsync,
// its rename, and the first fsync of dir after the rename. It reports what is missing or out
// of order.
func commitSteps(events []event, dir, key string) (created, fsynced, renamed, dirSynced event, problems []string) {
	var ok bool
	if renamed, ok = first(events, -1, func(e event) bool { return e.committedAs(filepath.Join(dir, key)) }); !ok {
		return created, fsynced, renamed, dirSynced, []string{key + ": no rename (or link) to its name"}
	}
	tmp := renamed.paths()[0]
	if !isTempOf(tmp, dir, key) {
		problems = append(problems, fmt.Sprintf("%s: renamed from %s, not a temporary file of its own", key, tmp))
	}
	created, _ = first(events, -1, func(e event) bool { return e.created(tmp) })
	for _, e := range events {
		if e.fsyncOf() == tmp && e.end < renamed.start {
			fsynced = e
		}
	}
	if fsynced.call == "" {
		problems = append(problems, key+": temporary file not fsynced before its rename")
	}
	if dirSynced, ok = first(events, renamed.end, func(e event) bool { return e.fsyncOf() == dir }); !ok {
		problems = append(problems, key+": directory not fsynced after the rename")
	}
	return created, fsynced, renamed, dirSynced, problems
}

// snapshotOrder checks the durability order of snapshot name's commit in one traced run.
func snapshotOrder(events []event, dir, name string) []string {
	var dataKey string
	for _, e := range events {
		for _, p := range e.paths() {
			if base := filepath.Base(p); strings.HasPrefix(base, name+".dump") && e.committedAs(p) {
				dataKey = base
			}
		}
	}
	if dataKey == "" {
		return []string{"no data object committed"}
	}
	_, _, _, intentSynced, problems := commitSteps(events, dir, name+".intent")
	dataCreated, _, _, dataSynced, p := commitSteps(events, dir, dataKey)
	problems = append(problems, p...)
	manCreated, _, manRenamed, manSynced, p := commitSteps(events, dir, name+".json")
	problems = append(problems, p...)
	if len(problems) > 0 {
		return problems
	}
	if intentSynced.end > dataCreated.start {
		problems = append(problems, "data temporary file created before the intent record was durable")
	}
	if dataSynced.end > manCreated.start || dataSynced.end > manRenamed.start {
		problems = append(problems, "manifest written or renamed before the data object's directory fsync")
	}
	intentGone, ok := first(events, -1, func(e event) bool { return e.unlinked(filepath.Join(dir, name+".intent")) })
	if !ok {
		problems = append(problems, "intent record not removed")
	} else if intentGone.start < manSynced.end {
		problems = append(problems, "intent record removed before the manifest was durable")
	}
	for _, u := range retentionUnlinks(events, dir, name) {
		if u.start < manSynced.end {
			problems = append(problems, fmt.Sprintf("retention unlinked %v before the new manifest was durable", u.paths()))
		}
	}
	return problems
}

// retentionUnlinks are the unlinks of committed objects of snapshots other than name.
func retentionUnlinks(events []event, dir, name string) []event {
	var out []event
	for _, e := range events {
		if e.call != "unlink" && e.call != "unlinkat" {
			continue
		}
		if p := e.paths(); len(p) == 1 && filepath.Dir(p[0]) == dir {
			if base := filepath.Base(p[0]); !strings.HasPrefix(base, ".") && !strings.HasPrefix(base, name+".") {
				out = append(out, e)
			}
		}
	}
	return out
}

// pruneOrder checks that each snapshot retention deleted lost its manifest first, durably,
// before its data; deleted counts them.
func pruneOrder(events []event, dir string, deleted *int) []string {
	var problems []string
	for _, e := range events {
		p := e.paths()
		if (e.call != "unlink" && e.call != "unlinkat") || len(p) != 1 || filepath.Dir(p[0]) != dir {
			continue
		}
		name, ok := strings.CutSuffix(filepath.Base(p[0]), ".dump.zst")
		if !ok {
			continue
		}
		*deleted++
		manifest := filepath.Join(dir, name+".json")
		gone, ok := first(events, -1, func(e event) bool { return e.unlinked(manifest) })
		if !ok {
			problems = append(problems, name+": data unlinked, manifest not")
			continue
		}
		synced, ok := first(events, gone.end, func(e event) bool { return e.fsyncOf() == dir })
		if !ok || synced.end > e.start {
			problems = append(problems, name+": data unlinked before the manifest's removal was durable")
		}
	}
	return problems
}
