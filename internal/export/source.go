package export

import (
	"context"

	"github.com/pgsnap/pgsnap/internal/catalog"
)

// Open opens the decoded archive of snap that holds table: the one place export, diff and the
// table restore choose which data object to read. The zero Name asks for the archive whose
// head holds the snapshot's table of contents.
//
// A snapshot is one data object today, so that is the one. A snapshot stored in several parts
// makes this pick the part that holds the table.
func Open(ctx context.Context, cat *catalog.Catalog, snap catalog.Snapshot, table Name) (*catalog.Reader, error) {
	return cat.Open(ctx, snap, catalog.Archive)
}
