package archive

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const depsSQL = `CREATE SCHEMA app;
CREATE TABLE app.customers (id serial PRIMARY KEY, name text);
CREATE TABLE app.accounts (id serial PRIMARY KEY, customer_id int REFERENCES app.customers,
  parent int REFERENCES app.accounts, email text UNIQUE);
CREATE INDEX acc_email_idx ON app.accounts (lower(email));
COMMENT ON CONSTRAINT accounts_customer_id_fkey ON app.accounts IS 'the owner';`

var dependsLine = regexp.MustCompile(`^;\s+depends on:((?: \d+)+)\s*$`)

// ReadTOC's Deps are pg_restore's: what pg_restore --list --verbose prints under each entry.
// A foreign key's hold its own table and the one it references: what a table restore needs.
func TestReadTOCDeps(t *testing.T) {
	c, db := newDB(t, depsSQL)
	archive := pgDump(t, c, db)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, binary(t, c, "pg_restore"), "--list", "--verbose", writeFile(t, "deps.dump", archive)).Output()
	if err != nil {
		t.Fatalf("pg_restore --list --verbose: %v", err)
	}
	want := map[int][]int{}
	last := 0
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if m := listEntryLine.FindStringSubmatch(sc.Text()); m != nil {
			last, _ = strconv.Atoi(m[1])
			want[last] = nil
		} else if m := dependsLine.FindStringSubmatch(sc.Text()); m != nil && last != 0 {
			for _, f := range strings.Fields(m[1]) {
				id, _ := strconv.Atoi(f)
				want[last] = append(want[last], id)
			}
		}
	}
	_, entries, err := ReadTOC(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	got := map[int][]int{}
	byTag := map[string]Entry{}
	for _, e := range entries {
		got[e.DumpID] = e.Deps
		byTag[e.Desc+" "+e.Tag] = e
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Deps differ from pg_restore's (-pg_restore +ReadTOC):\n%s", diff)
	}
	fk := byTag["FK CONSTRAINT accounts accounts_customer_id_fkey"]
	own, ref := byTag["TABLE accounts"].DumpID, byTag["TABLE customers"].DumpID
	if !containsInt(fk.Deps, own) || !containsInt(fk.Deps, ref) {
		t.Errorf("the foreign key's Deps %v lack its table %d or the referenced one %d", fk.Deps, own, ref)
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
