package archive

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"kitten", "sitting", 3}, {"acounts", "accounts", 1},
		{"ünï", "uni", 2}, {"日本", "日本語", 1}, {"abc", "cba", 2},
	}
	for _, tc := range tests {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.b, tc.a, got, tc.want)
		}
	}
}

func TestCloseNames(t *testing.T) {
	var tables []*tocEntry
	for _, k := range [][2]string{{"public", "accounts"}, {"other", "accounts"}, {"public", "orders"},
		{"public", "order_items"}, {"public", "y"}, {"public", "empty_table"}, {"sales", "Orders"}} {
		tables = append(tables, &tocEntry{Entry: Entry{Desc: "TABLE DATA", Namespace: k[0], Tag: k[1]}})
	}
	tests := []struct {
		schema, name string
		want         []string
	}{
		{"public", "acount", []string{"public.accounts", "other.accounts"}},
		{"public", "order", []string{"public.orders", "sales.Orders", "public.order_items"}},
		{"", "ORDERS", []string{"public.orders", "sales.Orders", "public.order_items"}},
		{"x", "zz", []string{"public.y"}},
		{"public", "nothing_like_it", nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, closeNames(tables, tc.schema, tc.name)); diff != "" {
			t.Errorf("closeNames(%q, %q) mismatch (-want +got):\n%s", tc.schema, tc.name, diff)
		}
	}
}
