package export

import (
	"context"

	"github.com/pgsnap/pgsnap/internal/catalog"
)

// Open opens the decoded archive of snap that holds table: the one place export, diff and the
// table restore choose which data object to read. The zero Name asks for the archive whose
// head holds the snapshot's table of contents (the first part).
//
// A snapshot taken over several streams keeps a table's data in the part whose Tables name it,
// and every other table's in the first part.
func Open(ctx context.Context, cat *catalog.Catalog, snap catalog.Snapshot, table Name) (*catalog.Reader, error) {
	objs := snap.Objects()
	for i, p := range snap.Parts {
		if i == 0 || table.Name == "" {
			continue
		}
		for _, key := range p.Tables {
			if n, ok := parseKey(key); ok && n.Name == table.Name && (table.Schema == "" || n.Schema == table.Schema) {
				return cat.Open(ctx, objs[i], catalog.Archive)
			}
		}
	}
	return cat.Open(ctx, objs[0], catalog.Archive)
}
