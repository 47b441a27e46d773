package catalog

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pgsnap/pgsnap/internal/archive"
	"github.com/pgsnap/pgsnap/internal/codec"
	"github.com/pgsnap/pgsnap/store"
)

// ManifestVersion is the manifest format this version writes and the newest it reads.
const ManifestVersion = 1

// FormatCustom is pg_dump's custom archive format (pg_dump -Fc), read by pg_restore.
const FormatCustom = "custom"

// FormatGlobals is the format of a globals snapshot: the SQL of `pg_dumpall --globals-only`
// (roles with their password hashes, role settings, tablespaces) of one server.
const FormatGlobals = "globals-sql"

// Snapshot describes one complete snapshot: its manifest. The JSON field names are a public
// interface (manifests on disk, pgsnap list --json): fields are added, never renamed.
type Snapshot struct {
	ManifestVersion int        `json:"manifest_version"`
	Name            string     `json:"name"`
	Target          string     `json:"target"`
	Database        string     `json:"database"`
	Slot            *time.Time `json:"slot"` // the schedule slot; nil for a manual snapshot
	StartedAt       time.Time  `json:"started_at"`
	FinishedAt      time.Time  `json:"finished_at"`
	Data            string     `json:"data"`   // key of the data object in the store
	Size            int64      `json:"size"`   // bytes of the stored data object
	SHA256          string     `json:"sha256"` // of the stored data object, hex
	Format          string     `json:"format"`
	Compression     string     `json:"compression"`
	Encrypted       bool       `json:"encrypted"`
	PGDumpVersion   string     `json:"pg_dump_version"`
	ServerVersion   string     `json:"server_version"`
	// SystemIdentifier tells the source's cluster from any other (pg_control_system()), so a
	// restore can tell it is about to replace the very database it was taken from.
	SystemIdentifier string            `json:"system_identifier,omitempty"`
	Labels           map[string]string `json:"labels"`
	Host             string            `json:"host,omitempty"` // machine that took it
	PgsnapVersion    string            `json:"pgsnap_version,omitempty"`
	// ArchiveSize is the size of the decoded archive (what pg_restore reads).
	ArchiveSize int64 `json:"archive_size,omitempty"`
	// Rows is every dumped table's row count, keyed "schema"."table" (quoted identifiers),
	// counted from the dump stream itself. Absent when it could not be counted.
	Rows map[string]int64 `json:"rows,omitempty"`
	// CompressionLevel is the zstd encoder level ("fastest", "default", "better", "best").
	CompressionLevel string `json:"compression_level,omitempty"`
	// ChunkSize is the bytes of archive in each independent zstd frame.
	ChunkSize int64 `json:"chunk_size,omitempty"`
	// Encryption is EncryptionAge when Encrypted.
	Encryption string `json:"encryption,omitempty"`
	// Recipients are the public keys the data object is encrypted to. Never an identity.
	Recipients []string `json:"recipients,omitempty"`

	// Parts are the snapshot's data objects when it was taken over several pg_dump streams
	// (SNAPSHOT_DUMP_JOBS): the first is Data itself, holding the schema and every table's data
	// but the other parts'. Absent for a snapshot of one stream.
	Parts []Part `json:"parts,omitempty"`

	// Destinations is how each destination fared when the snapshot was written.
	Destinations []DestinationResult `json:"destinations,omitempty"`

	// Drill is the latest restore drill of this snapshot, stored beside it; List fills it in.
	// It is never part of the manifest file, nor are StoredIn and Missing.
	Drill *Drill `json:"drill,omitempty"`
	// StoredIn names the destinations that hold the snapshot now; List fills it in.
	StoredIn []string `json:"stored_in,omitempty"`
	// Missing names the configured destinations that do not hold it (yet): the snapshot is
	// incomplete until sync copies it there.
	Missing []string `json:"missing,omitempty"`
	// Pinned snapshots are never deleted by retention (pgsnap pin/unpin); List fills it in,
	// with PinReason, why it was pinned.
	Pinned    bool   `json:"pinned,omitempty"`
	PinReason string `json:"pin_reason,omitempty"`
	// Check is the latest verification of this snapshot, stored beside it; List fills it in.
	Check *Check `json:"check,omitempty"`
	// Damaged says why the snapshot cannot be counted on, when List found it so: its data
	// object is missing or of the wrong size, or its latest verification or drill found it
	// damaged. Retention never counts a damaged snapshot.
	Damaged string `json:"damaged,omitempty"`

	src *Destination // where it was read from
	raw []byte       // the manifest as stored
}

// clearListed drops what List fills in: none of it is part of the manifest file.
func (s *Snapshot) clearListed() {
	s.Drill, s.StoredIn, s.Missing, s.Pinned, s.PinReason, s.Check, s.Damaged = nil, nil, nil, false, "", nil, ""
}

// Part is one data object of a snapshot taken over several pg_dump streams, each a custom-format
// archive of its own: the first holds the schema, large objects, sequence values and the data
// of every table but those of the other parts, which hold only their tables' data (pg_dump
// --data-only). All were dumped in one exported snapshot of the server.
type Part struct {
	Data        string `json:"data"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	ArchiveSize int64  `json:"archive_size,omitempty"`
	// Tables are the tables whose data a part after the first holds ("schema"."table").
	Tables []string `json:"tables,omitempty"`
}

// Objects are the snapshot's data objects, each as a snapshot of its own whose Data, Size,
// SHA256 and ArchiveSize are that object's: one for a snapshot of one stream. Whatever reads or
// checks a data object takes them one by one.
func (s Snapshot) Objects() []Snapshot {
	if len(s.Parts) <= 1 {
		return []Snapshot{s}
	}
	out := make([]Snapshot, len(s.Parts))
	for i, p := range s.Parts {
		o := s
		o.Data, o.Size, o.SHA256, o.ArchiveSize = p.Data, p.Size, p.SHA256, p.ArchiveSize
		out[i] = o
	}
	return out
}

// StoredSize is the bytes of every data object of the snapshot.
func (s Snapshot) StoredSize() int64 {
	if len(s.Parts) <= 1 {
		return s.Size
	}
	var n int64
	for _, p := range s.Parts {
		n += p.Size
	}
	return n
}

// Time is the snapshot's place in time for ordering and retention: its slot when scheduled,
// else the time it started.
func (s Snapshot) Time() time.Time {
	if s.Slot != nil {
		return *s.Slot
	}
	return s.StartedAt
}

// Duration is how long the snapshot took.
func (s Snapshot) Duration() time.Duration { return s.FinishedAt.Sub(s.StartedAt) }

func encodeManifest(s Snapshot) ([]byte, error) {
	s.clearListed()
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest %s: %w", s.Name, err)
	}
	return append(b, '\n'), nil
}

// decodeManifest parses and checks a manifest read from key. Unknown fields are accepted (a newer
// pgsnap may add some); a newer manifest_version is not.
func decodeManifest(key string, b []byte) (Snapshot, error) {
	var s Snapshot
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&s); err != nil {
		return Snapshot{}, fmt.Errorf("invalid manifest %s: %w", key, err)
	}
	s.clearListed()
	s.raw = b
	if err := s.check(key); err != nil {
		return Snapshot{}, fmt.Errorf("invalid manifest %s: %w", key, err)
	}
	return s, nil
}

func (s Snapshot) check(key string) error {
	switch {
	case s.ManifestVersion < 1:
		return errors.New("missing manifest_version")
	case s.ManifestVersion > ManifestVersion:
		return fmt.Errorf("manifest_version %d is newer than this pgsnap reads (%d): upgrade pgsnap", s.ManifestVersion, ManifestVersion)
	case ManifestKey(s.Name) != key:
		return fmt.Errorf("name %q does not match the manifest's key", s.Name)
	case s.Target == "":
		return errors.New("missing target")
	case s.StartedAt.IsZero() || s.FinishedAt.IsZero():
		return errors.New("missing started_at or finished_at")
	case s.Size <= 0:
		return fmt.Errorf("size %d", s.Size)
	case s.Format != FormatCustom && s.Format != FormatGlobals:
		return fmt.Errorf("unknown format %q", s.Format)
	case s.Compression != codec.PGDump && s.Compression != codec.Zstd && s.Compression != codec.None:
		return fmt.Errorf("unknown compression %q", s.Compression)
	case s.Encrypted && s.Encryption != codec.Age:
		return fmt.Errorf("unknown encryption %q", s.Encryption)
	case s.Encrypted && len(s.Recipients) == 0:
		return errors.New("encrypted, but no recipients")
	case !s.Encrypted && s.Encryption != "":
		return fmt.Errorf("encryption %q, but not encrypted", s.Encryption)
	}
	if target, _, err := ParseName(s.Name); err != nil {
		return fmt.Errorf("name %q: %w", s.Name, err)
	} else if target != s.Target {
		return fmt.Errorf("target %q does not match the name %q", s.Target, s.Name)
	}
	// The data object must be this snapshot's own: prune deletes what a manifest names, and a
	// manifest must never lead it to another snapshot's data or a file pgsnap did not write.
	if want := DataKey(s.Name, s.Format, s.Compression, s.Encrypted); s.Data != want {
		return fmt.Errorf("data %q is not %q", s.Data, want)
	}
	if err := store.ValidKey(s.Data); err != nil {
		return fmt.Errorf("data %q: %w", s.Data, err)
	}
	for i, p := range s.Parts {
		if want := PartKey(s.Name, i+1, s.Format, s.Compression, s.Encrypted); p.Data != want {
			return fmt.Errorf("part %d: data %q is not %q", i+1, p.Data, want)
		}
		if p.Size <= 0 {
			return fmt.Errorf("part %d: size %d", i+1, p.Size)
		}
		if h, err := hex.DecodeString(p.SHA256); err != nil || len(h) != 32 {
			return fmt.Errorf("part %d: sha256 %q is not 64 hex digits", i+1, p.SHA256)
		}
	}
	if len(s.Parts) > 0 && (s.Parts[0].Size != s.Size || s.Parts[0].SHA256 != s.SHA256) {
		return errors.New("part 1 is not the data object")
	}
	if h, err := hex.DecodeString(s.SHA256); err != nil || len(h) != 32 {
		return fmt.Errorf("sha256 %q is not 64 hex digits", s.SHA256)
	}
	return nil
}

// CountedRows returns a Counter's row counts keyed as manifests hold them: "schema"."table",
// quoted identifiers, unambiguous whatever the names hold.
func CountedRows(c *archive.Counter) (map[string]int64, error) {
	counts, err := c.Result()
	if err != nil {
		return nil, err
	}
	rows := make(map[string]int64, len(counts))
	for key, n := range counts {
		t, ok := c.Table(key)
		if !ok {
			return nil, fmt.Errorf("no table behind row count key %q", key)
		}
		rows[RowsKey(t.Schema, t.Name)] = n
	}
	return rows, nil
}

// RowsKey is how a manifest's rows name a table: "schema"."table", quoted identifiers.
func RowsKey(schema, table string) string {
	return `"` + strings.ReplaceAll(schema, `"`, `""`) + `"."` + strings.ReplaceAll(table, `"`, `""`) + `"`
}

// At is snap as read from d.
func At(snap Snapshot, d *Destination) Snapshot {
	snap.src = d
	return snap
}
