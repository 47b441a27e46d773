package export

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pgsnap/pgsnap/internal/archive"
)

// tocOf is a table of contents shaped as pg_dump 15 writes it (dump IDs and dependencies as
// pg_restore --list --verbose shows them for such a schema).
func tocOf() []archive.Entry {
	return []archive.Entry{
		{DumpID: 1, Desc: "ENCODING", Tag: "ENCODING"},
		{DumpID: 2, Desc: "DATABASE", Tag: "app"},
		{DumpID: 3, Desc: "COMMENT", Tag: "DATABASE app", Deps: []int{2}},
		{DumpID: 6, Desc: "SCHEMA", Tag: "app"},
		{DumpID: 7, Desc: "FUNCTION", Namespace: "app", Tag: "trg()", Deps: []int{6}},
		{DumpID: 10, Desc: "TABLE", Namespace: "app", Tag: "customers", Deps: []int{6}},
		{DumpID: 11, Desc: "TABLE", Namespace: "app", Tag: "accounts", Deps: []int{6}},
		{DumpID: 12, Desc: "TABLE", Namespace: "app", Tag: "orders", Deps: []int{6}},
		{DumpID: 13, Desc: "TABLE", Namespace: "public", Tag: "accounts"},
		{DumpID: 14, Desc: "SEQUENCE", Namespace: "app", Tag: "accounts_id_seq", Deps: []int{6}},
		{DumpID: 15, Desc: "SEQUENCE OWNED BY", Namespace: "app", Tag: "accounts_id_seq", Deps: []int{14}},
		{DumpID: 16, Desc: "COMMENT", Namespace: "app", Tag: "TABLE accounts", Deps: []int{11}},
		{DumpID: 17, Desc: "BLOB", Tag: "16500"},
		{DumpID: 18, Desc: "COMMENT", Tag: "LARGE OBJECT 16500", Deps: []int{17}},
		{DumpID: 19, Desc: "PUBLICATION", Tag: "pub"},
		{DumpID: 20, Desc: "PUBLICATION TABLE", Namespace: "app", Tag: "pub accounts", Deps: []int{19, 11}},
		{DumpID: 30, Desc: "TABLE DATA", Namespace: "app", Tag: "customers", Deps: []int{10}},
		{DumpID: 31, Desc: "TABLE DATA", Namespace: "app", Tag: "accounts", Deps: []int{11}},
		{DumpID: 32, Desc: "TABLE DATA", Namespace: "app", Tag: "orders", Deps: []int{12}},
		{DumpID: 33, Desc: "TABLE DATA", Namespace: "public", Tag: "accounts", Deps: []int{13}},
		{DumpID: 34, Desc: "SEQUENCE SET", Namespace: "app", Tag: "accounts_id_seq", Deps: []int{14}},
		{DumpID: 35, Desc: "BLOBS", Tag: "BLOBS"},
		{DumpID: 40, Desc: "CONSTRAINT", Namespace: "app", Tag: "customers customers_pkey", Deps: []int{10}},
		{DumpID: 41, Desc: "CONSTRAINT", Namespace: "app", Tag: "accounts accounts_pkey", Deps: []int{11}},
		{DumpID: 42, Desc: "INDEX", Namespace: "app", Tag: "acc_email_idx", Deps: []int{11, 11}},
		{DumpID: 43, Desc: "TRIGGER", Namespace: "app", Tag: "accounts t", Deps: []int{11, 7}},
		{DumpID: 44, Desc: "EVENT TRIGGER", Tag: "ddl_log"},
		// accounts -> customers, accounts -> accounts (self), orders -> accounts,
		// orders -> customers.
		{DumpID: 50, Desc: "FK CONSTRAINT", Namespace: "app", Tag: "accounts accounts_customer_id_fkey", Deps: []int{40, 11, 10}},
		{DumpID: 51, Desc: "COMMENT", Namespace: "app", Tag: "CONSTRAINT accounts_customer_id_fkey ON accounts", Deps: []int{50}},
		{DumpID: 52, Desc: "FK CONSTRAINT", Namespace: "app", Tag: "accounts accounts_parent_fkey", Deps: []int{11, 11, 41}},
		{DumpID: 53, Desc: "FK CONSTRAINT", Namespace: "app", Tag: "orders orders_account_fkey", Deps: []int{41, 12, 11}},
		{DumpID: 54, Desc: "FK CONSTRAINT", Namespace: "app", Tag: "orders orders_customer_fkey", Deps: []int{10, 40, 12}},
		{DumpID: 60, Desc: "ACL", Namespace: "app", Tag: "TABLE accounts", Deps: []int{11}},
		{DumpID: 61, Desc: "ACL", Tag: "LARGE OBJECT 16500", Deps: []int{17}},
	}
}

func TestSelectOneTable(t *testing.T) {
	sel, missing, err := Select(tocOf(), []Name{{Schema: "app", Name: "accounts"}}, nil)
	if err != nil || missing != nil {
		t.Fatal(err, missing)
	}
	if want := []Name{{"app", "accounts"}}; !cmp.Equal(sel.Tables, want) || !cmp.Equal(sel.Data, want) {
		t.Errorf("Tables %v, Data %v; want %v", sel.Tables, sel.Data, want)
	}
	// Every definition, the chosen table's data, every sequence's value; not the database's
	// own entries, other tables' data, large objects, publications, event triggers, nor a
	// foreign key to or from a table left out (nor the comment on one).
	want := []int{1, 6, 7, 10, 11, 12, 13, 14, 15, 16, 31, 34, 40, 41, 42, 43, 52, 60}
	if diff := cmp.Diff(want, sel.IDs); diff != "" {
		t.Errorf("IDs (-want +got):\n%s", diff)
	}
	wantLeft := []string{
		"app.accounts: foreign key accounts_customer_id_fkey to app.customers, which is not restored",
		"app.accounts: foreign key orders_account_fkey from app.orders, which is not restored",
	}
	if diff := cmp.Diff(wantLeft, sel.LeftOut); diff != "" {
		t.Errorf("LeftOut (-want +got):\n%s", diff)
	}
}

func TestSelectKeepsForeignKeysBetweenChosenTables(t *testing.T) {
	sel, _, err := Select(tocOf(), []Name{{"app", "accounts"}, {"app", "customers"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int{30, 31, 50, 51, 52} {
		if !slices.Contains(sel.IDs, id) {
			t.Errorf("entry %d left out, want it restored", id)
		}
	}
	for _, id := range []int{32, 53, 54} {
		if slices.Contains(sel.IDs, id) {
			t.Errorf("entry %d restored, want it left out (orders is not chosen)", id)
		}
	}
	if len(sel.LeftOut) != 2 || !strings.Contains(sel.LeftOut[0], "orders_account_fkey from app.orders") || !strings.Contains(sel.LeftOut[1], "orders_customer_fkey from app.orders") {
		t.Errorf("LeftOut = %q, want orders' two foreign keys", sel.LeftOut)
	}
}

func TestSelectSchema(t *testing.T) {
	sel, _, err := Select(tocOf(), nil, []string{"app"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Name{{"app", "customers"}, {"app", "accounts"}, {"app", "orders"}}; !cmp.Equal(sel.Tables, want) {
		t.Errorf("Tables = %v, want %v", sel.Tables, want)
	}
	for _, id := range []int{30, 31, 32, 50, 52, 53, 54} {
		if !slices.Contains(sel.IDs, id) {
			t.Errorf("entry %d left out of a schema's restore", id)
		}
	}
	if slices.Contains(sel.IDs, 33) || len(sel.LeftOut) != 0 {
		t.Errorf("public.accounts's data chosen (%v) or foreign keys left out (%q)", sel.IDs, sel.LeftOut)
	}
	if _, _, err := Select(tocOf(), nil, []string{"nope"}); !errors.Is(err, archive.ErrNoTable) {
		t.Errorf("Select of an unknown schema = %v, want ErrNoTable", err)
	}
}

func TestSelectNames(t *testing.T) {
	// Without a schema: the one table of that name, or ambiguous.
	sel, _, err := Select(tocOf(), []Name{{Name: "orders"}}, nil)
	if err != nil || !cmp.Equal(sel.Tables, []Name{{"app", "orders"}}) {
		t.Errorf("Select(orders) = %v, %v; want app.orders", sel.Tables, err)
	}
	if _, _, err := Select(tocOf(), []Name{{Name: "accounts"}}, nil); !errors.Is(err, archive.ErrNoTable) || !strings.Contains(err.Error(), "app.accounts, public.accounts") {
		t.Errorf("Select(accounts) = %v, want ambiguous naming both", err)
	}
	_, missing, err := Select(tocOf(), []Name{{"app", "acounts"}, {"app", "orders"}}, nil)
	if err != nil || !cmp.Equal(missing, []Name{{"app", "acounts"}}) {
		t.Errorf("Select(app.acounts) = missing %v, %v; want it missing", missing, err)
	}
}

// A foreign key whose dependencies name no table (an archive that does not record them) is
// left out, and named when its tag says it is a chosen table's.
func TestSelectForeignKeyWithoutDeps(t *testing.T) {
	toc := tocOf()
	for i := range toc {
		if toc[i].Desc == "FK CONSTRAINT" {
			toc[i].Deps = nil
		}
	}
	sel, _, err := Select(toc, []Name{{"app", "accounts"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"app.accounts: foreign key accounts_customer_id_fkey, whose referenced table the snapshot does not record",
		"app.accounts: foreign key accounts_parent_fkey, whose referenced table the snapshot does not record",
	}
	if diff := cmp.Diff(want, sel.LeftOut); diff != "" || slices.Contains(sel.IDs, 52) {
		t.Errorf("LeftOut (-want +got):\n%s", diff)
	}
}
