package pgsnap

import (
	"errors"

	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/internal/catalog"
	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/internal/export"
	"github.com/pgsnap/pgsnap/internal/restore"
	"github.com/pgsnap/pgsnap/internal/verify"
	"github.com/pgsnap/pgsnap/internal/writer"
)

// Snapshot describes one complete snapshot: its manifest, and what List found beside it. The
// JSON field names are a public interface (manifests on disk, pgsnap list --json): fields are
// added, never renamed.
type Snapshot = catalog.Snapshot

// Drill is the result of restoring a snapshot into a scratch database and comparing every
// table's row count with the manifest.
type Drill = catalog.Drill

// Check is the latest verification of a snapshot that reached a verdict.
type Check = catalog.Check

// DestinationResult is how one destination fared when a snapshot was written.
type DestinationResult = catalog.DestinationResult

// PruneDecision is retention's decision about one snapshot in one destination.
type PruneDecision = catalog.PruneDecision

// SyncCopy is one snapshot copied, or not, to a destination that lacked it.
type SyncCopy = catalog.SyncCopy

// CorruptError reports a snapshot whose stored bytes do not match its manifest, or that do not
// decode.
type CorruptError = catalog.CorruptError

// IdentityError explains why an encrypted snapshot could not be decrypted: no identity file
// configured, one that cannot be read, or one that matches none of the snapshot's recipients.
type IdentityError = codec.IdentityError

// TimeoutError reports that SNAPSHOT_TIMEOUT ended an attempt. It matches
// context.DeadlineExceeded with errors.Is.
type TimeoutError = writer.TimeoutError

// VerifyResult is the outcome of verifying one snapshot.
type VerifyResult = verify.Result

// VerifyOptions says how deep Verify goes.
type VerifyOptions = verify.Options

// RestoreOptions says where and how to restore a snapshot.
type RestoreOptions = restore.Options

// RestoreResult is what a restore did: the database it filled, the tables and rows it proved,
// and the old database it replaced (KeptOld names it when kept).
type RestoreResult = restore.Result

// RestoreTablesOptions say which tables (or schemas) of a snapshot to restore into an existing
// database, and under which name.
type RestoreTablesOptions = restore.TablesOptions

// RestoreTablesResult is what a table restore did: each table with its old and new name and
// its proven rows, and the foreign keys it left out.
type RestoreTablesResult = restore.TablesResult

// RestoredTable is one table a table restore brought back.
type RestoredTable = restore.RestoredTable

// ExportResult is what an export wrote: the table, its columns and rows, and whether the stored
// bytes were checked against the manifest.
type ExportResult = export.Result

// TableInfo is one table a snapshot holds data for, with its row count.
type TableInfo = export.TableInfo

// SnapshotDiff is what changed between two snapshots: rows per table, objects added and
// removed, size. Its JSON field names are a public interface (pgsnap diff --json).
type SnapshotDiff = export.Diff

// TableChange is one table's rows in two snapshots (SnapshotDiff.Tables).
type TableChange = export.TableChange

// DiffObject is an object of a snapshot's table of contents (SnapshotDiff.Added, Removed).
type DiffObject = export.Object

// Progress receives the progress of long operations in bytes: a snapshot's stored bytes, and
// the bytes of a stored snapshot read by verify, restore and drills. Calls for one operation
// come from one goroutine, Begin first and End last.
type Progress = catalog.Progress

var (
	// ErrNotFound is returned when a named snapshot does not exist.
	ErrNotFound = catalog.ErrNotFound
	// ErrLocked is returned when another pgsnap (a replica of the same service, or a second
	// daemon) holds the target's lock: it is taking a snapshot of the same database, or syncing
	// or pruning its store, right now.
	ErrLocked = catalog.ErrLocked
	// ErrSlotTaken is returned when the snapshot for a slot is already committed.
	ErrSlotTaken = errors.New("slot already taken")
	// ErrNoTable is matched by the error of an export or a table restore that names a table
	// (or schema) the snapshot does not hold; the message lists close names.
	ErrNoTable = archive.ErrNoTable
	// ErrBadName is matched by the error of an export or a table restore given a table or
	// schema name that does not parse.
	ErrBadName = export.ErrBadName
)

// What manifests record.
const (
	FormatCustom      = catalog.FormatCustom  // pg_dump's custom archive format (pg_dump -Fc)
	FormatGlobals     = catalog.FormatGlobals // the SQL of pg_dumpall --globals-only
	CompressionZstd   = codec.Zstd            // compressed by pgsnap in independent zstd frames
	CompressionNone   = codec.None            // the archive as pg_dump -Z0 wrote it
	CompressionPGDump = codec.PGDump          // compressed by pg_dump itself (the first format)
	EncryptionAge     = codec.Age             // encrypted with age to the manifest's recipients
)

// Export formats.
const (
	ExportCSV   = "csv"   // COPY ... WITH (FORMAT csv, HEADER true), byte for byte
	ExportText  = "text"  // COPY's text format
	ExportJSONL = "jsonl" // one JSON object per row, values as COPY text, NULL as null
)

// Table changes in a SnapshotDiff.
const (
	TableSame    = export.Same
	TableChanged = export.Changed
	TableAdded   = export.Added
	TableRemoved = export.Removed
	TableUnknown = export.Unknown // a manifest without row counts
)

// Check names reported by Verify.
const (
	CheckManifest = verify.CheckManifest
	CheckChecksum = verify.CheckChecksum
	CheckFrames   = verify.CheckFrames
	CheckTOC      = verify.CheckTOC
	CheckData     = verify.CheckData
	CheckRows     = verify.CheckRows
	CheckDrill    = verify.CheckDrill
)
